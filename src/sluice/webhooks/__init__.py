"""Run-event webhooks: subscriptions, the outbox written with run changes, signed delivery."""
