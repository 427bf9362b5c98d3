//! The kernel audit netlink interface: status, rules, records.
