package clients

import "testing"

// Real user agents, as Exchange, IIS and proxy logs keep them (the project's fixtures and
// public samples), and what a notice should say of each.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		ua   string
		want string
		fam  Family
	}{
		{"Apple-iPhone13C2/1905.245", "Mail app on an iPhone, iOS 15", IOSMail},
		{"Apple-iPhone9C3/1602.92", "Mail app on an iPhone, iOS 12", IOSMail},
		{"Apple-iPhone14C5/2002.1", "Mail app on an iPhone, iOS 16", IOSMail},
		{"Apple-iPhone15C4/2104.170", "Mail app on an iPhone, iOS 17", IOSMail},
		{"Apple-iPad8C1/1805.436", "Mail app on an iPad, iOS 14", IOSMail},
		{"Apple-iPad13C2/1905.245", "Mail app on an iPad, iOS 15", IOSMail},
		{"iOS/15.4.1 (19E258) dataaccessd/1.0", "Mail app on an iPhone, iOS 15", IOSMail},
		{"iPhone Mail (19E258)", "Mail app on an iPhone", IOSMail},
		{"Mac OS X/10.15.7 (19H2026); Mail/3608.120.23.2.4", "Apple Mail on a Mac, macOS 10.15", MacMail},
		{"macOS/12.3.1 (21E258) dataaccessd/1.0", "Apple Mail on a Mac, macOS 12.3", MacMail},
		{"Outlook-iOS/709.2189947.prod.iphone", "Outlook app on an iPhone or iPad", OutlookIOS},
		{"Outlook-iOS/723.4027091.prod.iphone (4.2318.0)", "Outlook app on an iPhone or iPad", OutlookIOS},
		{"Outlook-Android/2.0", "Outlook app on an Android phone", OutlookAndroid},
		{"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.5122; Pro)", "Outlook for Windows", OutlookWindows},
		{"Microsoft+Office/16.0+(Windows+NT+10.0;+Microsoft+Outlook+16.0.13901;+Pro)", "Outlook for Windows", OutlookWindows},
		{"Microsoft Office/15.0 (Windows NT 6.1; Microsoft Outlook 15.0.5023; Pro)", "Outlook for Windows", OutlookWindows},
		{"Microsoft Outlook 16.0", "Outlook for Windows", OutlookWindows},
		{"MSRPC", "Outlook for Windows", OutlookWindows},
		{"Outlook/16.0", "Outlook for Windows", OutlookWindows},
		{"MacOutlook/16.56.21121100 (Intelx64 Mac OS X 11.6.1 (Build 20G224))", "Outlook for Mac", OutlookMac},
		{"Microsoft Office/16.0 (Macintosh; Mac OS X 10.15; Microsoft Outlook 16.x)", "Outlook for Mac", OutlookMac},
		{"Outlook-WindowsMail/16005.14326.20858", "Mail app in Windows", WindowsMail},
		{"MSFT-WIN-3/10.0.19041", "Mail app in Windows", WindowsMail},
		{"SAMSUNG-SM-G991B/101.11", "Mail app on an Android phone, Samsung", AndroidMail},
		{"SAMSUNG-SM-A525F/100.90301", "Mail app on an Android phone, Samsung", AndroidMail},
		{"Samsung Email/6.1.41.0", "Mail app on an Android phone, Samsung", AndroidMail},
		{"HUAWEI-ELS-NX9/2.1", "Mail app on an Android phone, Huawei", AndroidMail},
		{"Xiaomi-M2101K9AG/12", "Mail app on an Android phone, Xiaomi", AndroidMail},
		{"Android-Gmail/2022.01.09", "Mail app on an Android phone, Gmail", AndroidMail},
		{"Android-Mail/2021.07.18.386063006.Release", "Mail app on an Android phone", AndroidMail},
		{"Android/11-EAS-2.0", "Mail app on an Android phone, Android 11", AndroidMail},
		{"Nine/4.9.4b", "Mail app on an Android phone", AndroidMail},
		{"BlueMail/1.9.8", "Mail app on an Android phone", AndroidMail},
		{"Thunderbird/91.0", "Thunderbird, version 91", Thunderbird},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:91.0) Gecko/20100101 Thunderbird/91.4.1", "Thunderbird, version 91", Thunderbird},
		{"Canon iR-ADV C5535", "Multifunction printer or scanner, Canon", Printer},
		{"KONICA MINOLTA bizhub C360i", "Multifunction printer or scanner, Konica Minolta", Printer},
		{"Xerox WorkCentre 7855", "Multifunction printer or scanner, Xerox", Printer},
		{"RICOH MP C3004", "Multifunction printer or scanner, Ricoh", Printer},
		{"HP LaserJet MFP M428fdw", "Multifunction printer or scanner, HP", Printer},
		{"KYOCERA TASKalfa 3252ci", "Multifunction printer or scanner, Kyocera", Printer},
		{"Brother MFC-L8900CDW", "Multifunction printer or scanner, Brother", Printer},
		{"SHARP MX-3071", "Multifunction printer or scanner, Sharp", Printer},
		{"TOSHIBA e-STUDIO2010AC", "Multifunction printer or scanner, Toshiba", Printer},
		{"WindowsPowerShell/5.1.19041.1320", "Script or application, PowerShell", Script},
		{"Mozilla/5.0 (Windows NT; Windows NT 10.0; en-GB) WindowsPowerShell/5.1.19041.1682", "Script or application, PowerShell", Script},
		{"ExchangeServicesClient/15.00.0913.015", "Script or application, .NET", Script},
		{"Python-urllib/3.8", "Script or application, Python", Script},
		{"python-requests/2.25.1", "Script or application, Python", Script},
		{"Java/1.8.0_291", "Script or application, Java", Script},
		{"Apache-HttpClient/4.5.13 (Java/11.0.12)", "Script or application, Java", Script},
		{"PHPMailer 6.5.0 (https://github.com/PHPMailer/PHPMailer)", "Script or application, PHP", Script},
		{"curl/7.68.0", "Script or application", Script},
		{"PharmSys/4.2", "Unrecognised device or app", Unknown},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36", "Unrecognised device or app", Unknown},
		{"", "Unrecognised device or app", Unknown},
		{"-", "Unrecognised device or app", Unknown},
	} {
		c := Classify(tc.ua)
		if c.Family != tc.fam || c.String() != tc.want {
			t.Errorf("Classify(%q) = %s %q, want %s %q", tc.ua, c.Family, c.String(), tc.fam, tc.want)
		}
	}
}

func TestOfAccount(t *testing.T) {
	got := Describe(OfAccount([]string{"Apple-iPhone13C2/1905.245", "Apple-iPhone13C2/1905.245", "PharmSys/4.2", "Microsoft Outlook 16.0"}, nil))
	if got != "Mail app on an iPhone, iOS 15; Outlook for Windows" {
		t.Errorf("Describe = %q", got)
	}
	if got := OfAccount(nil, []string{"ApplF17A1B2C3"}); len(got) != 1 || got[0].Family != IOSMail {
		t.Errorf("an Apple device id alone: %v", got)
	}
	if got := OfAccount(nil, []string{"SEC1234"}); len(got) != 0 {
		t.Errorf("an unknown device id: %v", got)
	}
}

// Every family has a name and steps.
func TestEveryFamilyHasSteps(t *testing.T) {
	for _, f := range Families {
		if Name(f) == "" || len(Steps(f)) == 0 || !Known(f) {
			t.Errorf("%s: name %q, %d steps", f, Name(f), len(Steps(f)))
		}
	}
}

func FuzzClassify(f *testing.F) {
	f.Add("Apple-iPhone13C2/1905.245")
	f.Add("Apple-iPad/")
	f.Fuzz(func(t *testing.T, ua string) {
		c := Classify(ua)
		if !Known(c.Family) {
			t.Fatalf("%q: family %q", ua, c.Family)
		}
		_ = c.String()
	})
}

// What classifying costs on the notice's path: a mix of the user agents a national campaign
// sees, one at a time (a notice classifies each account's agents for its rows, its steps and its
// CSV).
func BenchmarkClassify(b *testing.B) {
	uas := []string{"Apple-iPhone13C2/1905.245", "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.5122; Pro)",
		"SAMSUNG-SM-G991B/101.11", "Canon iR-ADV C5535", "PharmSys/4.2", "Outlook-iOS/709.2189947.prod.iphone", "Python-urllib/3.8"}
	b.Run("first reading", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			classify(uas[i%len(uas)])
		}
	})
	b.Run("remembered", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			Classify(uas[i%len(uas)])
		}
	})
}
