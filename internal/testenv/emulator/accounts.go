package emulator

// RemoveSSOUser deletes a CloudSSO user, as an administrator would: later
// calls naming it answer EntityNotExists.User.
func (c *Cloud) RemoveSSOUser(directoryID, userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.dirs[directoryID]; ok {
		delete(d.users, userID)
	}
}

// RemoveFabricUser deletes a user of a Fabric organization.
func (c *Cloud) RemoveFabricUser(orgID, username string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, ok := c.orgs[orgID]; ok {
		delete(o.users, username)
	}
}
