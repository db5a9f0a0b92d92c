"""Deployment: packaging into SCF code + layer zips, the CloudBase variant, bucket rules and policies."""
