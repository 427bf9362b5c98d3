//! Rule set analysis for `vigil rules check`.
