"""The model registry: ``ModelRegistryEntry`` writes a verified deployment into ``model_registry_entries``.

Modules: ``settings.py`` (pure input validation), ``connection.py`` (pure: which server and database, the
password never shown), ``rows.py`` (pure: the row and the SQL), ``migrate.py`` (versioned migrations under an
advisory lock), ``store.py`` (connect with ``backoff``, register, retire, list), ``resource.py`` (the dynamic
resource), ``__main__.py`` (``python -m components.registry migrate|list|show``).
"""
