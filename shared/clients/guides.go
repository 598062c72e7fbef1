package clients

// info is what a notice says of a family: its name and the short steps to fix it. A step may
// say "the new server": the notice shows each account's new setting above its steps.
type info struct {
	name  string
	steps []string
}

var families = map[Family]info{
	IOSMail: {"Mail app on an iPhone or iPad", []string{
		"Open Settings, then Mail, then Accounts, and choose the NHSmail account.",
		"If it is an Exchange account: delete it and add it again (Add Account, Microsoft Exchange), signing in with the full NHSmail address; the phone finds the new server itself.",
		"Otherwise change the incoming and outgoing server to the new server shown above.",
	}},
	MacMail: {"Apple Mail on a Mac", []string{
		"Open Mail, then Settings (or Preferences), then Accounts, and choose the NHSmail account.",
		"Under Server Settings, change the incoming and outgoing server to the new server shown above, or remove the account and add it again as a Microsoft Exchange account.",
	}},
	AndroidMail: {"Mail app on an Android phone", []string{
		"Open the mail app's settings and choose the NHSmail account.",
		"Change the server to the new server shown above; if the app cannot, remove the account and add it again (Exchange or Office 365) with the full NHSmail address.",
		"Or use Outlook for Android, which needs no server setting.",
	}},
	OutlookWindows: {"Outlook for Windows", []string{
		"Close Outlook, open Control Panel, then Mail (Microsoft Outlook), then Show Profiles.",
		"Add a new profile with the full NHSmail address and let Outlook find the settings; make it the default and remove the old profile.",
	}},
	OutlookMac: {"Outlook for Mac", []string{
		"In Outlook, open Settings, then Accounts, remove the NHSmail account and add it again with the full NHSmail address: Outlook finds the new settings itself.",
	}},
	OutlookIOS: {"Outlook app on an iPhone or iPad", []string{
		"Update Outlook from the App Store, then remove the NHSmail account in Outlook's settings and add it again as an Office 365 account.",
	}},
	OutlookAndroid: {"Outlook app on an Android phone", []string{
		"Update Outlook from Google Play, then remove the NHSmail account in Outlook's settings and add it again as an Office 365 account.",
	}},
	WindowsMail: {"Mail app in Windows", []string{
		"Open Mail, then Settings, then Manage accounts, and choose the NHSmail account.",
		"Remove it and add it again as an Office 365 account, or change its mailbox and outgoing servers to the new server shown above.",
	}},
	Thunderbird: {"Thunderbird", []string{
		"Open Account Settings: under Server Settings change the server name, and under Outgoing Server (SMTP) the outgoing server, to the new server shown above, with OAuth2 as the authentication method.",
	}},
	Printer: {"Multifunction printer or scanner", []string{
		"Open the device's web page or panel (its scan-to-email or SMTP settings); your print supplier can help.",
		"Change the SMTP server to the new server shown above, with its port and encryption; if the device cannot, ask the supplier about a relay or an update.",
	}},
	Script: {"Script or application", []string{
		"Find the system that sends or reads this mailbox (its owner is often named in the account).",
		"Change the server it connects to to the new server shown above; an application may need its supplier, and basic authentication may need to move to OAuth.",
	}},
	Unknown: {"Unrecognised device or app", []string{
		"Look at the devices and apps listed for the account, and change each one's server to the new server shown above.",
	}},
}

// Name is the family's name as a notice shows it.
func Name(f Family) string {
	if i, ok := families[f]; ok {
		return i.name
	}
	return families[Unknown].name
}

// Steps are the family's steps.
func Steps(f Family) []string {
	if i, ok := families[f]; ok {
		return i.steps
	}
	return families[Unknown].steps
}
