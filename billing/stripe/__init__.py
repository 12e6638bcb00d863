"""Card payments through Stripe: the gateway (outgoing calls), webhooks (incoming events)
and the conversion of money to Stripe's integer minor units.

Nothing here knows a Django model or a request: the billing services call the gateway
inside ``transaction.on_commit`` or from a Celery task, with ids and amounts.
"""
