"""The recipe catalogue: one YAML file per known API breakage (see README.md here).

This folder is data; setuptools installs it as the package `envfix.catalogue`.
"""
