using System.Net;
using System.Net.Sockets;

namespace Stratus.Server.Monitoring;

/// <summary>
/// Policy alerts as webhook calls: a JSON POST to each URL of the policy. A URL must be http or https and, when
/// <see cref="MonitoringSettings.WebhookHosts"/> is set, name one of those hosts. Unless
/// <see cref="MonitoringSettings.WebhookAllowPrivate"/>, the address actually connected to must be public: the check is made
/// on the resolved address at connect time, so a name that resolves to 127.0.0.1 or 10.x (or starts to, later) is
/// refused as surely as the literal address.
/// </summary>
public sealed class Webhooks : IDisposable
{
    private readonly MonitoringSettings _options;
    private readonly TimeProvider _clock;
    private readonly HttpClient _http;

    public Webhooks(MonitoringSettings options, TimeProvider clock)
    {
        _options = options;
        _clock = clock;
        var allowPrivate = _options.WebhookAllowPrivate;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false, // a redirect could lead anywhere the checks did not look
            ConnectTimeout = TimeSpan.FromSeconds(5),
            ConnectCallback = async (context, ct) =>
            {
                var addresses = await Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, ct);
                var allowed = addresses.Where(a => allowPrivate || IsPublic(a)).ToArray();
                if (allowed.Length == 0)
                    throw new HttpRequestException($"{context.DnsEndPoint.Host} resolves to {string.Join(", ", addresses.Select(a => a.ToString()))}: not a public address (STRATUS_WEBHOOKALLOWPRIVATE allows it)");
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <summary>Why a URL may not be a webhook, or null when it may. A name is judged by what it resolves to when called.</summary>
    public string? Check(string url)
    {
        if (Security.SecretService.Reference(url) is { } secret)
            return Names.Validate(secret) is { } bad ? $"'{url}' names no secret: the name {bad}" : null;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            return $"'{url}' is not an absolute http or https URL";
        if (!string.IsNullOrEmpty(uri.UserInfo)) return $"'{url}' carries credentials in the URL; put a token in its path or query instead";
        var hosts = _options.WebhookHosts.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (hosts.Length > 0 && !hosts.Any(h => HostMatches(h, uri.Host)))
            return $"host '{uri.Host}' is not among the allowed webhook hosts ({string.Join(", ", hosts)}; STRATUS_WEBHOOKHOSTS)";
        if (!_options.WebhookAllowPrivate && IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && !IsPublic(address))
            return $"'{uri.Host}' is not a public address (STRATUS_WEBHOOKALLOWPRIVATE allows it)";
        return null;
    }

    /// <summary>
    /// Posts an event to each URL, a <c>secret:NAME</c> entry to the URL that secret holds (<paramref name="secret"/>
    /// looks it up; null when it does not exist); never throws: each call's outcome is returned.
    /// </summary>
    public async Task<List<AlertDelivery>> SendAsync(IReadOnlyList<string>? urls, string name, PolicyDecision decision, Func<string, Task<string?>> secret, CancellationToken ct)
    {
        var deliveries = new List<AlertDelivery>();
        foreach (var entry in urls ?? [])
        {
            int? status = null;
            var url = entry;
            string? error = Check(entry);
            if (error is null && Security.SecretService.Reference(entry) is { } reference)
            {
                // What is wrong names the secret, never its value.
                var value = await secret(reference);
                url = value ?? "";
                error = value is null ? $"secret '{reference}' does not exist"
                    : Security.SecretService.Reference(value) is not null || Check(value) is not null ? $"secret '{reference}' is not a webhook URL this server may call" : null;
            }
            if (error is null)
            {
                try
                {
                    var body = new WebhookEvent(name, decision.Endpoint, decision.Status, decision.Reasons, decision);
                    using var response = await _http.PostAsJsonAsync(url, body, StratusJsonContext.Default.WebhookEvent, ct);
                    status = (int)response.StatusCode;
                    if (!response.IsSuccessStatusCode) error = $"answered {status} {response.ReasonPhrase}";
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                {
                    // A connection error's message names the host: a secret URL's failure says only what kind it was.
                    var failure = ex.InnerException as HttpRequestException ?? ex;
                    error = Security.SecretService.Reference(entry) is { } named
                        ? $"the call to secret '{named}' failed ({(failure as HttpRequestException)?.HttpRequestError.ToString() ?? failure.GetType().Name})"
                        : failure.Message;
                }
            }
            deliveries.Add(new AlertDelivery(Redact(entry), name, status, error, _clock.GetUtcNow()));
        }
        return deliveries;
    }

    /// <summary>
    /// A webhook URL as the API shows it: scheme, host and port only. Paths and queries often carry the secret (Slack's
    /// do), and viewers may read policies and decisions.
    /// </summary>
    public static string Redact(string url) =>
        Security.SecretService.Reference(url) is not null ? url : Uri.TryCreate(url, UriKind.Absolute, out var uri) ? $"{uri.Scheme}://{uri.Authority}/…" : "(not a URL)";

    private static bool HostMatches(string pattern, string host) =>
        pattern.StartsWith("*.", StringComparison.Ordinal)
            ? host.EndsWith(pattern[1..], StringComparison.OrdinalIgnoreCase)
            : string.Equals(pattern, host, StringComparison.OrdinalIgnoreCase);

    /// <summary>False for loopback, private (RFC 1918, unique local), link-local, carrier-grade NAT, documentation, benchmarking, unspecified, multicast and reserved addresses.</summary>
    /// <remarks>
    /// IPv6 forms that carry an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64
    /// 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16) are judged by the IPv4 address they reach; Teredo, discard-only
    /// and documentation prefixes are never public.
    /// </remarks>
    public static bool IsPublic(IPAddress address)
    {
        if (Embedded(address) is { } inner) address = inner;
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)) return false;
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var b6 = address.GetAddressBytes();
            return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || address.IsIPv6Teredo || (b6[0] & 0xFE) == 0xFC
                || (b6[0] == 0x01 && b6[1] == 0x00 && b6.AsSpan(2, 6).IndexOfAnyExcept((byte)0) < 0) // 100::/64, discard only
                || (b6[0] == 0x20 && b6[1] == 0x01 && b6[2] == 0x0d && b6[3] == 0xb8) // 2001:db8::/32, documentation
                || b6.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0); // ::/96 that Embedded did not take (::, ::1 and the like)
        }
        var b = address.GetAddressBytes();
        return !(b[0] == 10 || b[0] == 0 || b[0] >= 224
            || (b[0] == 172 && b[1] is >= 16 and <= 31)
            || (b[0] == 192 && b[1] == 168)
            || (b[0] == 169 && b[1] == 254)
            || (b[0] == 100 && b[1] is >= 64 and <= 127)
            || (b[0] == 192 && b[1] == 0 && b[2] is 0 or 2) // IETF protocol assignments, documentation
            || (b[0] == 198 && b[1] is 18 or 19) // benchmarking
            || (b[0] == 198 && b[1] == 51 && b[2] == 100)
            || (b[0] == 203 && b[1] == 0 && b[2] == 113));
    }

    /// <summary>The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), or null.</summary>
    private static IPAddress? Embedded(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return null;
        if (address.IsIPv4MappedToIPv6) return address.MapToIPv4();
        var b = address.GetAddressBytes();
        // ::a.b.c.d (deprecated IPv4-compatible); :: and ::1 themselves are not addresses of this form.
        if (b.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0 && (b[12] | b[13]) != 0) return new IPAddress(b.AsSpan(12, 4));
        // 64:ff9b::/96 (well-known NAT64) and 64:ff9b:1::/48 (local-use NAT64): the IPv4 address in the last 32 bits.
        if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && (b.AsSpan(4, 8).IndexOfAnyExcept((byte)0) < 0 || (b[4] == 0 && b[5] == 1)))
            return new IPAddress(b.AsSpan(12, 4));
        // 2002:AABB:CCDD::/48 (6to4): the relay reaches AA.BB.CC.DD.
        if (b[0] == 0x20 && b[1] == 0x02) return new IPAddress(b.AsSpan(2, 4));
        return null;
    }

    public void Dispose() => _http.Dispose();
}
