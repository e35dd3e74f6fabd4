from balancer.cli import app

app(prog_name="balancer")
