"""The breach lifecycle as pure functions: findings become incidents, incidents become alerts.

``episodes``: an incident's state replayed from what the windows said about its key;
``incidents``: a window's verdicts and the incident row they lead to, and people's actions;
``alerts``: grouping incidents into alerts, and the payloads and keys of their notifications.
Nothing here queries or writes: ``ethics_audit.recording`` reads the rows through the store,
calls these, and writes what they return, in one transaction.
"""
