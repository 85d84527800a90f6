"""Peers the tests run on 127.0.0.1: real servers (oidc/) and scripted vendor APIs."""
