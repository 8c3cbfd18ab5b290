using System.Security.Cryptography;
using System.Text;
using Amazon.KeyManagementService;
using Amazon.KeyManagementService.Model;
using Stratus.Server.Kernel;

namespace Stratus.Server.Storage;

/// <summary>
/// Key-encryption keys kept in an AWS KMS-compatible key service (<see cref="StorageSettings.KmsKeys"/>): the keys never
/// leave it, and each data key is wrapped and unwrapped by its Encrypt and Decrypt calls, with the blob's hash and the
/// key's id as encryption context. Credentials come from the standard AWS chain (environment, profile, platform), as
/// for the S3 store.
/// </summary>
internal sealed class KmsKeys : IKeySource
{
    public KmsKeys(StorageSettings settings)
    {
        var config = new AmazonKeyManagementServiceConfig { MaxErrorRetry = 2, Timeout = TimeSpan.FromSeconds(30) };
        var region = Environment.GetEnvironmentVariable("AWS_REGION") ?? Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION") ?? "us-east-1";
        if (settings.KmsEndpoint is { Length: > 0 } endpoint)
        {
            config.ServiceURL = endpoint;
            config.AuthenticationRegion = region;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(region);
        }
        var client = new AmazonKeyManagementServiceClient(config);
        var references = settings.KmsKeys!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (references.Length == 0) throw new StartupException("Stratus:KmsKeys (STRATUS_KMSKEYS) names no key; list key ids, ARNs or aliases, the active one last");
        if (references.Distinct(StringComparer.Ordinal).Count() < references.Length) throw new StartupException("Stratus:KmsKeys (STRATUS_KMSKEYS) names a key twice");
        Keys = [.. references.Select(r => new KmsKey(r, client))];
        Source = $"the key service at {settings.KmsEndpoint ?? region} (Stratus:KmsKeys)";
    }

    public List<IKeyEncryptionKey> Keys { get; }

    public string Source { get; }
}

/// <summary>One key of a KMS-compatible service, named as the operator wrote it (an id, an ARN or an alias).</summary>
internal sealed class KmsKey(string reference, IAmazonKeyManagementService kms) : IKeyEncryptionKey
{
    private string? _fingerprint;

    /// <summary>From the name as written: every node must name a key the same way.</summary>
    public string Id { get; } = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(reference)))[..16];

    /// <summary>The key's ARN as the service reports it, hashed: an alias moved to another key is found at start.</summary>
    public async Task<string> FingerprintAsync(CancellationToken ct)
    {
        if (_fingerprint is not null) return _fingerprint;
        KeyMetadata key;
        try
        {
            key = (await kms.DescribeKeyAsync(new DescribeKeyRequest { KeyId = reference }, ct)).KeyMetadata;
        }
        catch (NotFoundException)
        {
            throw new StartupException($"KMS key {reference} of Stratus:KmsKeys does not exist in the key service");
        }
        if (key.KeyState != KeyState.Enabled) throw new StartupException($"KMS key {reference} of Stratus:KmsKeys is {key.KeyState}, not Enabled");
        // (Services that leave either out are taken at their word; AWS names both.)
        if (key.KeyUsage is { } usage && usage != KeyUsageType.ENCRYPT_DECRYPT || key.KeySpec is { } spec && spec != KeySpec.SYMMETRIC_DEFAULT)
            throw new StartupException($"KMS key {reference} of Stratus:KmsKeys is {key.KeySpec} for {key.KeyUsage}; wrapping data keys needs a SYMMETRIC_DEFAULT key for ENCRYPT_DECRYPT");
        return _fingerprint = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key.Arn)));
    }

    public async Task<byte[]> WrapAsync(byte[] dataKey, string sha256, CancellationToken ct)
    {
        using var plaintext = new MemoryStream(dataKey, writable: false);
        var response = await kms.EncryptAsync(new EncryptRequest { KeyId = reference, Plaintext = plaintext, EncryptionContext = Context(sha256) }, ct);
        return response.CiphertextBlob.ToArray();
    }

    public async Task<byte[]?> UnwrapAsync(byte[] wrapped, string sha256, CancellationToken ct)
    {
        try
        {
            using var ciphertext = new MemoryStream(wrapped, writable: false);
            var response = await kms.DecryptAsync(new DecryptRequest { KeyId = reference, CiphertextBlob = ciphertext, EncryptionContext = Context(sha256) }, ct);
            return response.Plaintext.ToArray();
        }
        catch (Exception ex) when (ex is InvalidCiphertextException or IncorrectKeyException)
        {
            return null; // another blob's, another key's, or altered
        }
    }

    private Dictionary<string, string> Context(string sha256) => new(StringComparer.Ordinal) { ["stratus:blob"] = sha256, ["stratus:kek"] = Id };
}
