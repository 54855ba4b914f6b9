"""The identity service: a Keystone v3 subset.

Users, projects and domains, roles (with implied roles), role assignments,
tokens and the service catalog, over the tables in ``cumulo.db.models.identity``.

| module | job |
|---|---|
| ``api.py`` | the route table and ``build_app`` |
| ``routes/`` | one module of HTTP handlers per resource |
| ``auth_request.py`` | parsing a ``POST /v3/auth/tokens`` body, Keystone's wording |
| ``auth.py`` | authenticating, choosing the scope, issuing a token |
| ``tokens.py`` | token hashing, loading, caching; ``DatabaseTokenValidator`` |
| ``roles.py`` | effective roles: assignments plus implied roles |
| ``manager.py`` | domains, projects, roles over the database |
| ``users.py`` | users, their projects, password changes |
| ``passwords.py`` | argon2id hashing, off the event loop |
| ``assignments.py`` | grants and ``/v3/role_assignments`` |
| ``catalog.py`` | the service catalog, regions, services, endpoints |
| ``schemas.py`` / ``views.py`` | request bodies in, Keystone-shaped documents out |
| ``service.py`` | what handlers share; ``authorize`` with Keystone's 403 wording |
| ``errors.py`` | the identity errors, in Keystone's words |
| ``bootstrap.py`` | the idempotent first-start set-up |
"""
