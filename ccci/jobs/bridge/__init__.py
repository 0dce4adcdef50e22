"""The !testme bridge: forge comments in, CI builds out, results back on the PR.

webhook (signature and payload, pure), forge (the Gitea/Forgejo API), ci and
drone (the build system), store (what was seen and what is running, atomic),
service (the one path every comment takes), server (webhooks over HTTP),
poller (the same path for hosts without a public endpoint). Every HTTP call
goes through `http`, the one seam.
"""
