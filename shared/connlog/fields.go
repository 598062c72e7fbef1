package connlog

import (
	"bytes"
	"fmt"
	"strings"
)

// DefaultFields are the field lists the products write by default, as their "#Fields:" lines
// give them. A campaign (formats: {iis: {fields: default}}) or `sunset scan --fields default`
// names them for files whose header was lost: agents and exporters that forward lines one by
// one drop the '#' lines.
var DefaultFields = map[Format]string{
	// IIS 8.5 and later, W3C extended log, the fields selected by default.
	FormatIIS: "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken",
	// Exchange 2016 and 2019 (15.01, 15.02) HttpProxy logs, every protocol folder.
	FormatHTTPProxy: "DateTime,RequestId,MajorVersion,MinorVersion,BuildVersion,RevisionVersion,ClientRequestId,Protocol,UrlHost,UrlStem,ProtocolAction,AuthenticationType,IsAuthenticated,AuthenticatedUser,Organization,AnchorMailbox,UserAgent,ClientIpAddress,ServerHostName,HttpStatus,BackEndStatus,ErrorCode,Method,ProxyAction,TargetServer,TargetServerVersion,RoutingType,RoutingHint,BackEndCookie,ServerLocatorHost,ServerLocatorLatency,RequestBytes,ResponseBytes,TargetOutstandingRequests,AuthModulePerfContext,HttpPipelineLatency,CalculateTargetBackEndLatency,GlsLatencyBreakup,TotalGlsLatency,AccountForestLatencyBreakup,TotalAccountForestLatency,ResourceForestLatencyBreakup,TotalResourceForestLatency,ADLatency,SharedCacheLatencyBreakup,TotalSharedCacheLatency,ActivityContextLifeTime,ModuleToHandlerSwitchingLatency,ClientReqStreamLatency,BackendReqInitLatency,BackendReqStreamLatency,BackendProcessingLatency,BackendRespInitLatency,BackendRespStreamLatency,ClientRespStreamLatency,KerberosAuthHeaderLatency,HandlerCompletionLatency,RequestHandlerLatency,HandlerToModuleSwitchingLatency,ProxyTime,CoreLatency,RoutingLatency,HttpProxyOverhead,TotalRequestTime,RouteRefresherLatency,UrlQuery,BackEndGenericInfo,GenericInfo,GenericErrors,EdgeTraceId,DatabaseGuid,UserADObjectGuid,PartitionEndpointLookupLatency,RoutingStatus",
	// Exchange 2013-2019 IMAP4 and POP3 protocol logs.
	FormatIMAP4: "dateTime,sessionId,seqNumber,sIp,cIp,user,duration,rqsize,rpsize,command,parameters,context",
	FormatPOP3:  "dateTime,sessionId,seqNumber,sIp,cIp,user,duration,rqsize,rpsize,command,parameters,context",
	// Exchange 2013-2019 SMTP Receive protocol logs.
	FormatSMTPReceive: "date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context",
}

// fieldSep is the separator of a format's field list: spaces for IIS, commas for Exchange.
func fieldSep(f Format) byte {
	if f == FormatIIS {
		return ' '
	}
	return ','
}

// DeclaredFields checks the field list declared for a format ("default" names DefaultFields)
// and returns its names.
func DeclaredFields(format, list string) ([]string, error) {
	f, err := ParseFormat(format)
	if err != nil || f == FormatAuto {
		return nil, fmt.Errorf("%q is not a format (known: %s)", format, strings.Join(FieldFormats(), ", "))
	}
	def, ok := DefaultFields[f]
	if !ok {
		return nil, fmt.Errorf("%s has no field list to declare (only %s do)", f, strings.Join(FieldFormats(), ", "))
	}
	list = strings.TrimSpace(list)
	if strings.EqualFold(list, "default") {
		list = def
	}
	names := fieldNames([]byte(list), fieldSep(f))
	if len(names) < 2 {
		return nil, fmt.Errorf("%q is not a %s field list (names separated by %q, as its #Fields line writes them, or default)", list, f, string(fieldSep(f)))
	}
	return names, nil
}

func compileFields(decl map[string]string) (map[Format][]string, error) {
	out := map[Format][]string{}
	for name, list := range decl {
		names, err := DeclaredFields(name, list)
		if err != nil {
			return nil, fmt.Errorf("fields: %w", err)
		}
		out[Format(name)] = names
	}
	return out, nil
}

// FieldFormats are the formats whose field list can be declared.
func FieldFormats() []string {
	return []string{string(FormatIIS), string(FormatHTTPProxy), string(FormatIMAP4), string(FormatPOP3), string(FormatSMTPReceive)}
}

// declarer is a parser that can take the field list a file without "#Fields:" was written with.
type declarer interface{ declare(names []string) }

func (p *iisParser) declare(names []string) {
	p.header([]byte("#Fields: " + strings.Join(names, " ")))
}

func (p *proxyParser) declare(names []string) { p.hdr.declare(names, p.columns) }
func (p *mailParser) declare(names []string)  { p.hdr.declare(names, p.columns) }
func (p *smtpParser) declare(names []string)  { p.hdr.declare(names, p.columns) }

func (h *csvHeader) declare(names []string, columns func([]string)) {
	h.names = names
	columns(names)
}

// detectDeclared names the format of a data line that comes without a header, when it has the
// shape of a declared field list: as many fields as the list (a CSV row may leave trailing
// fields off, see rowFit) and a time where the list puts one. lines are the head's lines from
// this one on, for telling IMAP4 from POP3.
func detectDeclared(l []byte, lines [][]byte, fields map[Format][]string) Format {
	for _, f := range []Format{FormatIIS, FormatHTTPProxy, FormatSMTPReceive, FormatIMAP4, FormatPOP3} {
		names, ok := fields[f]
		if !ok || !shapeOf(f, l, names) {
			continue
		}
		if f == FormatIMAP4 || f == FormatPOP3 {
			if _, both := fields[FormatIMAP4]; both {
				if _, pop := fields[FormatPOP3]; pop {
					return imapOrPop(lines)
				}
			}
		}
		return f
	}
	return ""
}

// shapeOf reports whether data line l fits the field list names of format f.
func shapeOf(f Format, l []byte, names []string) bool {
	if f == FormatIIS {
		fs := bytes.Split(bytes.TrimSpace(l), []byte(" "))
		if len(fs) != len(names) {
			return false
		}
		d, t := colIndex(names, "date"), colIndex(names, "time")
		if d < 0 || t < 0 {
			return false
		}
		_, _, ok := parseTime(append(append(append([]byte(nil), fs[d]...), ' '), fs[t]...))
		return ok
	}
	fs, _, ok := splitCSV(l, nil, nil)
	if !ok {
		return false
	}
	dt := colIndex(names, "DateTime", "date-time")
	if dt < 0 || dt >= len(fs) {
		return false
	}
	if _, reason := rowFit(fs, names, nil); reason != "" {
		return false
	}
	_, _, ok = parseTime(fs[dt])
	return ok
}
