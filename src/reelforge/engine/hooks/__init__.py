"""Outgoing webhooks: run and job events sent, signed, to the URLs that asked for them.

A caller's ``callback_url`` (on a run's start) and a project's subscriptions are both
subscriptions (:mod:`.tables`); an event (:mod:`.events`) makes one delivery per matching
subscription, and each delivery is a durable DBOS workflow (:mod:`.workflows`) that signs it
with the Standard Webhooks scheme (:mod:`.signing`), posts it through the URL guard
(:mod:`.sending`), and sleeps durably between attempts. Every attempt is in the delivery log.
"""
