// Package feedback handles what SES reports about sent notices. The configuration set
// publishes Bounce, Complaint and Delivery events to an SNS topic, whose subscription invokes
// the feedback Lambda with the SES event JSON as the SNS message.
//
// SNS rather than EventBridge: one topic and one subscription carry exactly the three event
// types the configuration set is told to publish, with no rule or pattern to maintain, and the
// message is SES's documented notification JSON. (EventBridge would carry the same JSON in
// "detail"; switching is a template change plus unwrapping "detail" instead of "Message".)
//
// A permanent bounce or a complaint puts the address on the suppression list, for every
// campaign, and marks the notice suppressed. A transient bounce changes nothing (SES retried
// and gave up on that attempt only). A delivery records delivered_at. The notice is found from
// the X-Sunset-* headers SES echoes back, or failing that from the email tags.
package feedback
