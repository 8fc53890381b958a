"""The IG staff pages: server-rendered, signed-in, every action logged. Mounted at ``/ig``."""
