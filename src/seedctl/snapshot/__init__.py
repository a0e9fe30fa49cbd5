"""The snapshot side: export -> manifest -> validate, and the pipeline that runs them under DVC."""
