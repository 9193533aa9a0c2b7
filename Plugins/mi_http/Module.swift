// mi_http is being written.
