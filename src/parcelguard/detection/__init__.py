"""Detection over the gate's log (issue 14): per-actor baselines, patterns of misuse, alerts, and the audit on a
staff member's departure."""
