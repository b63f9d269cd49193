"""The dispatcher: claim due outbox rows, re-check them, send, record, reconcile.

- `claim`: take due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and mark them sending;
- `content`: render plan rows from the pinned plan and address them;
- `checks`: what may still stop a claimed row just before the provider call;
- `send`: one claimed row through its channel adapter, under the row lock;
- `outcome`: what a receipt or a `DeliveryError` does to the row;
- `reconcile`: rows left in `sending` (in doubt) against the provider, never a blind resend;
- `dispatcher`: the per-process loop the worker's tick job drives.
"""
