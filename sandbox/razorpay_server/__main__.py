"""`python -m sandbox.razorpay_server`: serve the sandbox (see app.main for the options)."""
from sandbox.razorpay_server.app import main

main()
