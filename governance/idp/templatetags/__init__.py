"""Template tags of the IdP connections, loaded by name from any app's templates (settings
TEMPLATES "libraries"): templates may ask governance, Python in inventory and audit may not."""
