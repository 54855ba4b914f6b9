"""instance_actions"""
