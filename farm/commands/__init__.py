"""The face: one module per command group, Typer only (parse, call a job, render).

cli.py composes them and turns their errors and outcomes into exit codes.
"""
