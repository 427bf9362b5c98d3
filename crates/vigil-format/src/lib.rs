//! Audit record model, audit text (raw/enriched) and JSON writers, log reader.
