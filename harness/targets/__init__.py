"""Built-in targets that run on the simulated asyncio loop: Tornado >= 5's IOStream and asyncio streams.

Rules for this package:
- One module per library. Importing a module imports nothing of its library; ``load()`` does, and says
  what it found and how to install the right one when that fails (``TargetError``).
- An adapter maps the matrix's operations onto the library's own public API and nothing more: it never
  buffers, retries or reorders, so every byte and every completion the harness sees is the library's.
  What the API lacks is declared (``Target.lacks``) and shown as not applicable, never failed.
"""
