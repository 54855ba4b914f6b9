"""server_groups"""
