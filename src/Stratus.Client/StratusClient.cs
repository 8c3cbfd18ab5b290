using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Stratus.Client;

/// <summary>An error answer from the Stratus API, carrying its ProblemDetails.</summary>
public sealed class StratusApiException(HttpStatusCode status, string title, string detail, string? field, IReadOnlyDictionary<string, string>? errors = null)
    : Exception($"{(int)status} {title}: {detail}")
{
    /// <summary>What is wrong with each bad item of a request that has several (such as feedback), by its field (<c>items[3].label</c>).</summary>
    public IReadOnlyDictionary<string, string> Errors { get; } = errors ?? new Dictionary<string, string>();

    /// <summary>The HTTP status.</summary>
    public HttpStatusCode Status { get; } = status;

    /// <summary>The problem's title.</summary>
    public string Title { get; } = title;

    /// <summary>What went wrong, naming the field or value.</summary>
    public string Detail { get; } = detail;

    /// <summary>The request field at fault, when the server named one.</summary>
    public string? Field { get; } = field;
}

/// <summary>
/// The Stratus SDK. Give it an <see cref="HttpClient"/> whose <see cref="HttpClient.BaseAddress"/> is the server and
/// whose default headers carry the token, or use <see cref="Create"/>.
/// </summary>
public sealed class StratusClient
{
    private readonly HttpClient _http;

    /// <summary>Wraps a configured <see cref="HttpClient"/>.</summary>
    public StratusClient(HttpClient http)
    {
        _http = http;
        Datasets = new DatasetsClient(this);
        Experiments = new ExperimentsClient(this);
        Runs = new RunsClient(this);
        Models = new ModelsClient(this);
        Tokens = new TokensClient(this);
        Jobs = new JobsClient(this);
        Endpoints = new EndpointsClient(this);
        Monitoring = new MonitoringClient(this);
    }

    /// <summary>
    /// Creates a client for <paramref name="baseUrl"/> authenticating with <paramref name="token"/>. With
    /// <paramref name="fingerprint"/> (the SHA-256 of the server's certificate, hex, colons optional) an HTTPS server
    /// whose certificate no authority vouches for (<c>stratus up --tls</c>) is trusted when its certificate is that one.
    /// </summary>
    /// <param name="project">The project every request works in (the <c>Stratus-Project</c> header); none: the token's, else <c>default</c>.</param>
    public static StratusClient Create(string baseUrl, string token, TimeSpan? timeout = null, string? fingerprint = null, string? project = null)
    {
        var handler = new SocketsHttpHandler();
        if (fingerprint is { Length: > 0 })
        {
            var pinned = fingerprint.Replace(":", "", StringComparison.Ordinal);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                errors == System.Net.Security.SslPolicyErrors.None
                || (certificate is not null && Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(certificate.GetRawCertData())).Equals(pinned, StringComparison.OrdinalIgnoreCase));
        }
        var http = new HttpClient(handler) { BaseAddress = new Uri(baseUrl.TrimEnd('/') + "/"), Timeout = timeout ?? TimeSpan.FromMinutes(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (!string.IsNullOrEmpty(project)) http.DefaultRequestHeaders.Add(Projects.Header, project);
        return new StratusClient(http);
    }

    /// <summary>Datasets: upload, versions, profiles, download, delete.</summary>
    public DatasetsClient Datasets { get; }

    /// <summary>Experiments.</summary>
    public ExperimentsClient Experiments { get; }

    /// <summary>Runs: params, metrics, inputs, artifacts, heartbeats.</summary>
    public RunsClient Runs { get; }

    /// <summary>The model registry.</summary>
    public ModelsClient Models { get; }

    /// <summary>Tokens (admin).</summary>
    public TokensClient Tokens { get; }

    /// <summary>Training jobs.</summary>
    public JobsClient Jobs { get; }

    /// <summary>Real-time endpoints.</summary>
    public EndpointsClient Endpoints { get; }

    /// <summary>Monitoring: baselines and drift.</summary>
    public MonitoringClient Monitoring { get; }

    /// <summary>The identity behind the token.</summary>
    public Task<WhoAmI> WhoAmIAsync(CancellationToken ct = default) => GetAsync("api/v1/whoami", StratusJsonContext.Default.WhoAmI, ct);

    /// <summary>Reads the audit log, newest first; with <paramref name="since"/>, only rows from that time on.</summary>
    public Task<Page<AuditEntry>> AuditAsync(string? actor = null, string? outcome = null, int? pageSize = null, string? pageToken = null, DateTimeOffset? since = null,
        CancellationToken ct = default) =>
        GetAsync(Query("api/v1/audit", ("actor", actor), ("outcome", outcome), ("since", since?.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture)),
                ("page_size", pageSize?.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("page_token", pageToken)),
            StratusJsonContext.Default.PageAuditEntry, ct);

    /// <summary>Checks the audit log's hash chain.</summary>
    public Task<AuditVerification> VerifyAuditAsync(CancellationToken ct = default) =>
        GetAsync("api/v1/audit/verify", StratusJsonContext.Default.AuditVerification, ct);

    /// <summary>The deployment's nodes (servers and workers): the live ones first, then those lost or stopped within the last hour.</summary>
    public Task<IReadOnlyList<NodeInfo>> NodesAsync(CancellationToken ct = default) =>
        GetAsync("api/v1/nodes", StratusJsonContext.Default.IReadOnlyListNodeInfo, ct);

    /// <summary>The key-encryption keys (admin; never the keys themselves).</summary>
    public Task<IReadOnlyList<KeyStatus>> KeysAsync(CancellationToken ct = default) =>
        GetAsync("api/v1/keys", StratusJsonContext.Default.IReadOnlyListKeyStatus, ct);

    /// <summary>Rotates the key-encryption key: a new one, every data key re-wrapped under it (admin).</summary>
    public Task<KeyRotation> RotateKeysAsync(CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, "api/v1/keys/rotate", null, StratusJsonContext.Default.KeyRotation, ct);

    /// <summary>The secrets: names and when they were set, never values (admin).</summary>
    public Task<IReadOnlyList<SecretInfo>> SecretsAsync(CancellationToken ct = default) =>
        GetAsync("api/v1/secrets", StratusJsonContext.Default.IReadOnlyListSecretInfo, ct);

    /// <summary>Sets a secret's value (admin); it is never returned.</summary>
    public Task<SecretInfo> SetSecretAsync(string name, string value, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Put, $"api/v1/secrets/{Segment(name)}", Json(new SetSecretRequest(value), StratusJsonContext.Default.SetSecretRequest),
            StratusJsonContext.Default.SecretInfo, ct);

    /// <summary>Deletes a secret (admin).</summary>
    public Task<SecretInfo> DeleteSecretAsync(string name, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Delete, $"api/v1/secrets/{Segment(name)}", null, StratusJsonContext.Default.SecretInfo, ct);

    /// <summary>The users and service accounts (admin).</summary>
    public Task<IReadOnlyList<UserInfo>> UsersAsync(CancellationToken ct = default) =>
        GetAsync("api/v1/users", StratusJsonContext.Default.IReadOnlyListUserInfo, ct);

    /// <summary>Creates a user or a service account (admin).</summary>
    public Task<UserInfo> CreateUserAsync(CreateUserRequest request, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, "api/v1/users", Json(request, StratusJsonContext.Default.CreateUserRequest), StratusJsonContext.Default.UserInfo, ct);

    /// <summary>Disables a user or service account: its tokens stop working (admin).</summary>
    public Task<UserInfo> DisableUserAsync(string name, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"api/v1/users/{Segment(name)}/disable", null, StratusJsonContext.Default.UserInfo, ct);

    /// <summary>Creates a project; its maker owns it.</summary>
    public Task<ProjectInfo> CreateProjectAsync(string name, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, "api/v1/projects", Json(new CreateProjectRequest(name), StratusJsonContext.Default.CreateProjectRequest), StratusJsonContext.Default.ProjectInfo, ct);

    /// <summary>The projects the caller may see, with its role in each.</summary>
    public Task<IReadOnlyList<ProjectInfo>> ProjectsAsync(CancellationToken ct = default) =>
        GetAsync("api/v1/projects", StratusJsonContext.Default.IReadOnlyListProjectInfo, ct);

    /// <summary>A project's members.</summary>
    public Task<IReadOnlyList<ProjectMemberInfo>> ProjectMembersAsync(string project, CancellationToken ct = default) =>
        GetAsync($"api/v1/projects/{Segment(project)}/members", StratusJsonContext.Default.IReadOnlyListProjectMemberInfo, ct);

    /// <summary>Adds a member to a project or changes its role (an owner or an admin).</summary>
    public Task<ProjectMemberInfo> SetProjectMemberAsync(string project, string user, string role, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Put, $"api/v1/projects/{Segment(project)}/members/{Segment(user)}", Json(new SetMemberRequest(role), StratusJsonContext.Default.SetMemberRequest),
            StratusJsonContext.Default.ProjectMemberInfo, ct);

    /// <summary>Removes a member from a project (an owner or an admin).</summary>
    public Task RemoveProjectMemberAsync(string project, string user, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Delete, $"api/v1/projects/{Segment(project)}/members/{Segment(user)}", null, ct);

    /// <summary>Lets another project use one of this project's models or datasets as <c>project/name</c> (an owner or an admin).</summary>
    public Task<GrantInfo> GrantAsync(string project, GrantRequest request, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, $"api/v1/projects/{Segment(project)}/grants", Json(request, StratusJsonContext.Default.GrantRequest), StratusJsonContext.Default.GrantInfo, ct);

    /// <summary>The grants a project gave and received.</summary>
    public Task<IReadOnlyList<GrantInfo>> GrantsAsync(string project, CancellationToken ct = default) =>
        GetAsync($"api/v1/projects/{Segment(project)}/grants", StratusJsonContext.Default.IReadOnlyListGrantInfo, ct);

    /// <summary>Withdraws a grant (an owner or an admin).</summary>
    public Task RevokeGrantAsync(string project, long id, CancellationToken ct = default) =>
        SendAsync(HttpMethod.Delete, $"api/v1/projects/{Segment(project)}/grants/{id}", null, ct);

    /// <summary>Deletes unreferenced blobs now (admin).</summary>
    public Task<GcResult> CollectGarbageAsync(CancellationToken ct = default) =>
        SendAsync(HttpMethod.Post, "api/v1/admin/gc", null, StratusJsonContext.Default.GcResult, ct);

    internal async Task<T> GetAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken ct)
    {
        using var response = await _http.GetAsync(path, ct);
        return await ReadAsync(response, type, ct);
    }

    internal async Task<T> SendAsync<T>(HttpMethod method, string path, HttpContent? content, JsonTypeInfo<T> type, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        return await ReadAsync(response, type, ct);
    }

    internal async Task SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        using var response = await _http.SendAsync(request, ct);
        await EnsureSuccessAsync(response, ct);
    }

    internal static JsonContent Json<T>(T value, JsonTypeInfo<T> type) => JsonContent.Create(value, type);

    /// <summary>Downloads to <paramref name="destination"/> through a temporary file, checking the server's SHA-256 when it sends one; a failed download leaves no file.</summary>
    internal async Task<string?> DownloadAsync(string path, string destination, IProgress<long>? progress, CancellationToken ct)
    {
        using var response = await _http.GetAsync(path, HttpCompletionOption.ResponseHeadersRead, ct);
        await EnsureSuccessAsync(response, ct);
        var expected = response.Headers.TryGetValues("X-Content-SHA256", out var values) ? values.FirstOrDefault() : null;
        var full = Path.GetFullPath(destination);
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.part");
        try
        {
            string actual;
            await using (var source = await response.Content.ReadAsStreamAsync(ct))
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                var buffer = new byte[1 << 16];
                long total = 0;
                int read;
                while ((read = await source.ReadAsync(buffer, ct)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), ct);
                    total += read;
                    progress?.Report(total);
                }
                file.Flush(flushToDisk: true);
                actual = Convert.ToHexStringLower(hash.GetHashAndReset());
            }
            if (expected is not null && !string.Equals(expected, actual, StringComparison.OrdinalIgnoreCase))
                throw new InvalidDataException($"the download's SHA-256 is {actual}, but the server announced {expected}");
            File.Move(temp, full, overwrite: true);
            return actual;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    internal static string Query(string path, params (string Key, string? Value)[] args)
    {
        var parts = args.Where(a => a.Value is not null).Select(a => $"{a.Key}={Uri.EscapeDataString(a.Value!)}").ToList();
        return parts.Count == 0 ? path : $"{path}?{string.Join('&', parts)}";
    }

    internal static string Segment(string value) => Uri.EscapeDataString(value);

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, CancellationToken ct)
    {
        await EnsureSuccessAsync(response, ct);
        return await response.Content.ReadFromJsonAsync(type, ct) ?? throw new InvalidDataException("the server answered with an empty body");
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode) return;
        string title = response.ReasonPhrase ?? "Error", detail = "", body = "";
        string? field = null;
        Dictionary<string, string>? errors = null;
        try
        {
            body = await response.Content.ReadAsStringAsync(ct);
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.TryGetProperty("title", out var t)) title = t.GetString() ?? title;
            if (root.TryGetProperty("detail", out var d)) detail = d.GetString() ?? "";
            if (root.TryGetProperty("field", out var f)) field = f.GetString();
            if (root.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Object)
                errors = e.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText());
        }
        catch (JsonException)
        {
            detail = body.Length > 500 ? body[..500] : body;
        }
        throw new StratusApiException(response.StatusCode, title, detail, field, errors);
    }
}
