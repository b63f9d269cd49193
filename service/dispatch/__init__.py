"""The dispatcher: claim due outbox rows, check them, send, record, reconcile.

- `claim`: take due rows, urgent first (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and
  mark them sending;
- `lanes`: which sender each row leaves through; per sender as many rows as it has send
  slots (`service.pacing`: one bucket per sender, in its row, shared by every worker);
- `intake`: the claim's transaction: checks, content, and a `Job` per row to send;
- `content`: render plan rows from the pinned plan and address them;
- `checks`: what may stop a claimed row (pure);
- `fence`: the one committed statement right before a call (still ours, claim fresh,
  not opted out), which also counts the attempt;
- `send`: one job through its fence and its channel adapter;
- `recorder`: outcomes written as they come, many per transaction;
- `outcome`: what a receipt or a `DeliveryError` does to the row;
- `reconcile`: abandoned claims back to the queue; calls in doubt against the provider;
- `expiry`: rows whose validity ended while they waited, skipped in bulk with the reason;
- `dispatcher`: the per-process loop the worker's tick job drives.
"""
