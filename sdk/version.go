package sdk

// Version is the version of this SDK, reported to the host by Describe.
const Version = "1.0.0"
