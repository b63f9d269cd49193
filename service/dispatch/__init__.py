"""The dispatcher: claim due outbox rows, check them, send, record, reconcile.

- `claim`: take due rows, urgent first (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and
  mark them sending;
- `intake`: the claim's transaction: checks, content, and a `Job` per row to send;
- `content`: render plan rows from the pinned plan and address them;
- `checks`: what may stop a claimed row (pure);
- `fence`: the one committed statement right before a call (still ours, claim fresh,
  not opted out), which also counts the attempt;
- `send`: one job through its fence and its channel adapter;
- `recorder`: outcomes written as they come, many per transaction;
- `outcome`: what a receipt or a `DeliveryError` does to the row;
- `reconcile`: abandoned claims back to the queue; calls in doubt against the provider;
- `dispatcher`: the per-process loop the worker's tick job drives.
"""
