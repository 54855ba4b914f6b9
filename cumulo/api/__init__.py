"""HTTP plumbing shared by every service's API: errors, request ids, microversions,
policy, pagination, authentication, and the one root application that mounts them."""
