"""gunicorn settings of the floor API: plain sync workers, nothing else."""

worker_class = "sync"
accesslog = None
control_socket_disable = True
