"""The web alarm console (design.md section 9): a separate process that reads
the journal and sends every act through the signing path, like the command line.

Kept free of imports here: the settings module loads ``console.config``, and the
monitoring service must never pull in the web stack.
"""
