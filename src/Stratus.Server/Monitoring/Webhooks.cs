using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Stratus.Server.Hosting;

namespace Stratus.Server.Monitoring;

/// <summary>
/// Policy alerts as webhook calls: a JSON POST to each URL of the policy. A URL must be http or https and, when
/// <see cref="StratusOptions.WebhookHosts"/> is set, name one of those hosts. Unless
/// <see cref="StratusOptions.WebhookAllowPrivate"/>, the address actually connected to must be public: the check is made
/// on the resolved address at connect time, so a name that resolves to 127.0.0.1 or 10.x (or starts to, later) is
/// refused as surely as the literal address.
/// </summary>
public sealed class Webhooks : IDisposable
{
    private readonly StratusOptions _options;
    private readonly TimeProvider _clock;
    private readonly HttpClient _http;

    public Webhooks(IOptions<StratusOptions> options, TimeProvider clock)
    {
        _options = options.Value;
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

    /// <summary>Posts an event to each URL; never throws: each call's outcome is returned.</summary>
    public async Task<List<AlertDelivery>> SendAsync(IReadOnlyList<string>? urls, string name, PolicyDecision decision, CancellationToken ct)
    {
        var deliveries = new List<AlertDelivery>();
        foreach (var url in urls ?? [])
        {
            int? status = null;
            string? error = Check(url);
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
                    error = (ex.InnerException as HttpRequestException ?? ex).Message;
                }
            }
            deliveries.Add(new AlertDelivery(Redact(url), name, status, error, _clock.GetUtcNow()));
        }
        return deliveries;
    }

    /// <summary>
    /// A webhook URL as the API shows it: scheme, host and port only. Paths and queries often carry the secret (Slack's
    /// do), and viewers may read policies and decisions.
    /// </summary>
    public static string Redact(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) ? $"{uri.Scheme}://{uri.Authority}/…" : "(not a URL)";

    private static bool HostMatches(string pattern, string host) =>
        pattern.StartsWith("*.", StringComparison.Ordinal)
            ? host.EndsWith(pattern[1..], StringComparison.OrdinalIgnoreCase)
            : string.Equals(pattern, host, StringComparison.OrdinalIgnoreCase);

    /// <summary>False for loopback, private (RFC 1918, unique local), link-local, carrier-grade NAT, documentation, benchmarking, unspecified, multicast and reserved addresses.</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any)) return false;
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var b6 = address.GetAddressBytes();
            return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || (b6[0] & 0xFE) == 0xFC);
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

    public void Dispose() => _http.Dispose();
}
