using System.Security.Cryptography;
using System.Text;
using Stratus.Server.Kernel;
using Stratus.Server.Security;

namespace Stratus.Server.Storage;

/// <summary>
/// The key-encryption keys (KEKs) that wrap every blob's data key, from one of three sources:
/// <list type="bullet">
/// <item>a key file, by default <c>&lt;DataDir&gt;/keys/master.keys</c>, made on the first start with mode 0600;</item>
/// <item><see cref="StorageSettings.MasterKey"/> (<c>STRATUS_MASTERKEY</c>, the operator's, the same on every node);</item>
/// <item>an AWS KMS-compatible key service (<see cref="StorageSettings.KmsKeys"/>) or a PKCS#11 token
/// (<see cref="StorageSettings.Pkcs11Keys"/>), whose keys never leave it.</item>
/// </list>
/// A file or the variable lists keys as <c>ID:BASE64</c>, one per line or comma; the KMS setting lists key ids, ARNs
/// or aliases, the PKCS#11 one AES keys' labels. The last key is the active one, which wraps new data keys; the others
/// only unwrap until <c>stratus keys rotate</c> has re-wrapped their data keys. A local key is 32 random bytes (AES-256)
/// and wraps with AES-256-GCM; a KMS key wraps with the service's Encrypt, a token's key with the token's AES-GCM. Either
/// way the blob's hash and the key's id are bound to the wrapped key (associated data, or KMS's encryption context), so
/// a wrapped key moved to another blob fails.
/// </summary>
public sealed class KeyRing
{
    private readonly StorageSettings _settings;
    private readonly Lock _lock = new();
    private readonly IKeySource? _service; // keys that live in a key service or a token
    private List<IKeyEncryptionKey> _keys = [];
    private DateTime _read; // the key file's write time when read

    public KeyRing(StorageSettings settings)
    {
        _settings = settings;
        string[] sources = [.. new[] { ("Stratus:MasterKey", settings.MasterKey), ("Stratus:KmsKeys", settings.KmsKeys), ("Stratus:Pkcs11Keys", settings.Pkcs11Keys) }
            .Where(s => s.Item2 is { Length: > 0 }).Select(s => s.Item1)];
        if (sources.Length > 1) throw new StartupException($"{string.Join(" and ", sources)} are set at once; key-encryption keys come from one source");
        _service = settings.KmsKeys is { Length: > 0 } ? new KmsKeys(settings) : settings.Pkcs11Keys is { Length: > 0 } ? new Pkcs11Keys(settings) : null;
        Load();
    }

    /// <summary>The key file, when the keys come from one.</summary>
    public string? KeyFile => _settings.MasterKey is { Length: > 0 } || _service is not null ? null : _settings.KeyFile ?? Path.Combine(_settings.DataDir, "keys", "master.keys");

    /// <summary>Where the keys come from, for an operator (never the keys).</summary>
    public string Source => KeyFile ?? _service?.Source ?? "Stratus:MasterKey (STRATUS_MASTERKEY)";

    /// <summary>The ids of the keys this node holds, the active one last.</summary>
    public IReadOnlyList<string> Ids
    {
        get
        {
            lock (_lock) return [.. _keys.Select(k => k.Id)];
        }
    }

    /// <summary>The active key's id; throws when there is none (<see cref="Generate"/> first).</summary>
    public string ActiveId
    {
        get
        {
            lock (_lock) return _keys.Count > 0 ? _keys[^1].Id : throw new InvalidOperationException("no key-encryption key is loaded");
        }
    }

    /// <summary>
    /// A key's fingerprint, which tells nothing of its bytes (their SHA-256; a KMS key's ARN hashed; a token's key's tag
    /// of a fixed message, hashed): how the database knows a wrong key of the right name.
    /// </summary>
    public Task<string> FingerprintAsync(string id, CancellationToken ct) => KeyOf(id).FingerprintAsync(ct);

    /// <summary>Whether this node holds a key of this id.</summary>
    public bool Has(string id)
    {
        lock (_lock) return _keys.Any(k => k.Id == id);
    }

    /// <summary>Wraps a blob's data key under the active key; the key's id and the wrapped bytes.</summary>
    public async Task<(string KeyId, byte[] Wrapped)> WrapAsync(string sha256, byte[] dataKey, CancellationToken ct)
    {
        IKeyEncryptionKey active;
        lock (_lock)
        {
            // Another node rotated the shared key file: new data keys go under its new active key at once.
            if (KeyFile is { } file && File.Exists(file) && File.GetLastWriteTimeUtc(file) != _read) Load();
            active = _keys.Count > 0 ? _keys[^1] : throw new InvalidOperationException("no key-encryption key is loaded");
        }
        return (active.Id, await active.WrapAsync(dataKey, sha256, ct));
    }

    /// <summary>Unwraps a blob's data key; <see cref="CryptographicException"/> when the key is not this node's or the bytes were altered.</summary>
    public async Task<byte[]> UnwrapAsync(string sha256, string keyId, byte[] wrapped, CancellationToken ct)
    {
        return await KeyOf(keyId).UnwrapAsync(wrapped, sha256, ct)
            ?? throw new CryptographicException($"the data key of blob {sha256} does not unwrap under key-encryption key {keyId}: a wrong key of that name, or an altered row");
    }

    /// <summary>Makes the key file with one new key, unless another process (another node on a shared folder) made it first: then its keys are read.</summary>
    public void Generate()
    {
        var file = KeyFile ?? throw new InvalidOperationException("keys from Stratus:MasterKey are the operator's to add");
        lock (_lock)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            var made = file + $".{Guid.NewGuid():N}.tmp";
            var (id, key) = NewKey();
            SecretFile.Write(made, Line(id, key));
            try
            {
                File.Move(made, file, overwrite: false);
            }
            catch (IOException) when (File.Exists(file))
            {
                File.Delete(made); // another node's file is the one
            }
            Load();
        }
    }

    /// <summary>Adds a new active key to this node's own key file (rotation); the earlier ones stay to unwrap until retired.</summary>
    public string AddKey()
    {
        var file = KeyFile ?? throw new InvalidOperationException("keys from Stratus:MasterKey are the operator's to add");
        lock (_lock)
        {
            var key = NewKey();
            SecretFile.Write(file, string.Concat(_keys.Cast<LocalKey>().Select(k => Line(k.Id, k.Key))) + Line(key.Id, key.Key));
            Load();
            return key.Id;
        }
    }

    /// <summary>Removes keys that no data key needs any more from this node's own key file.</summary>
    public void Retire(IReadOnlyCollection<string> ids)
    {
        var file = KeyFile ?? throw new InvalidOperationException("keys from Stratus:MasterKey are the operator's to remove");
        lock (_lock)
        {
            var kept = _keys.Cast<LocalKey>().Where(k => !ids.Contains(k.Id) || k.Id == _keys[^1].Id).ToList();
            SecretFile.Write(file, string.Concat(kept.Select(k => Line(k.Id, k.Key))));
            Load();
        }
    }

    /// <summary>Reads the keys again (another node rotated the shared key file); whether <paramref name="id"/> is now held.</summary>
    public bool Reload(string id)
    {
        lock (_lock)
        {
            Load();
            return _keys.Any(k => k.Id == id);
        }
    }

    /// <summary>Reads the keys (under the lock, or from the constructor).</summary>
    private void Load()
    {
        _read = KeyFile is { } file && File.Exists(file) ? File.GetLastWriteTimeUtc(file) : default;
        _keys = _service is { } service ? service.Keys : [.. Read(_settings).Select(k => (IKeyEncryptionKey)new LocalKey(k.Id, k.Key))];
    }

    private IKeyEncryptionKey KeyOf(string id)
    {
        lock (_lock)
        {
            foreach (var key in _keys) if (key.Id == id) return key;
        }
        if (Reload(id)) return KeyOf(id);
        throw new CryptographicException($"key-encryption key {id} is not among this node's keys ({Source})");
    }

    private static (string Id, byte[] Key) NewKey() => (Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)), RandomNumberGenerator.GetBytes(32));

    private static string Line(string id, byte[] key) => $"{id}:{Convert.ToBase64String(key)}\n";

    /// <summary>The keys as configured, none when the key file does not exist yet; a malformed entry stops the start, naming where it is.</summary>
    private static List<(string Id, byte[] Key)> Read(StorageSettings settings)
    {
        string text, source;
        if (settings.MasterKey is { Length: > 0 } master)
        {
            (text, source) = (master, "Stratus:MasterKey (STRATUS_MASTERKEY)");
        }
        else
        {
            var file = settings.KeyFile ?? Path.Combine(settings.DataDir, "keys", "master.keys");
            if (!File.Exists(file)) return [];
            (text, source) = (File.ReadAllText(file), file);
        }
        var keys = new List<(string, byte[])>();
        var entries = text.Split(['\n', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        for (var i = 0; i < entries.Length; i++)
        {
            var parts = entries[i].Split(':', 2);
            byte[]? key = null;
            if (parts.Length == 2 && Names.IsLowerHex(parts[0], parts[0].Length) && parts[0].Length is >= 1 and <= 32)
            {
                try
                {
                    key = Convert.FromBase64String(parts[1]);
                }
                catch (FormatException)
                {
                }
            }
            if (key is not { Length: 32 })
                throw new StartupException($"key {i + 1} of {source} is not ID:BASE64 with a lower-case hex id and 32 bytes of key (AES-256)");
            if (keys.Any(k => k.Item1 == parts[0])) throw new StartupException($"key id {parts[0]} appears twice in {source}");
            keys.Add((parts[0], key));
        }
        if (keys.Count == 0 && settings.MasterKey is { Length: > 0 }) throw new StartupException($"{source} holds no key");
        return keys;
    }
}

/// <summary>Keys that live outside this process (a key service, a token), and where, for an operator.</summary>
internal interface IKeySource
{
    List<IKeyEncryptionKey> Keys { get; }

    string Source { get; }
}

/// <summary>A key-encryption key: it wraps and unwraps data keys, and where its own bytes are is its own business.</summary>
internal interface IKeyEncryptionKey
{
    /// <summary>A lower-case hex id of at most 32 characters, as <c>data_keys</c> records it.</summary>
    string Id { get; }

    Task<string> FingerprintAsync(CancellationToken ct);

    /// <summary>Wraps a data key, bound to its blob and to this key's id.</summary>
    Task<byte[]> WrapAsync(byte[] dataKey, string sha256, CancellationToken ct);

    /// <summary>The data key; null when the bytes do not open under this key, for this blob.</summary>
    Task<byte[]?> UnwrapAsync(byte[] wrapped, string sha256, CancellationToken ct);
}

/// <summary>A key this process holds: 32 bytes from the key file or <c>STRATUS_MASTERKEY</c>; wrapping is AES-256-GCM.</summary>
internal sealed class LocalKey(string id, byte[] key) : IKeyEncryptionKey
{
    public string Id => id;

    public byte[] Key => key;

    public Task<string> FingerprintAsync(CancellationToken ct) => Task.FromResult(Convert.ToHexStringLower(SHA256.HashData(key)));

    public Task<byte[]> WrapAsync(byte[] dataKey, string sha256, CancellationToken ct) => Task.FromResult(BlobCipher.SealValue(key, dataKey, Bind(sha256)));

    public Task<byte[]?> UnwrapAsync(byte[] wrapped, string sha256, CancellationToken ct) => Task.FromResult(BlobCipher.OpenValue(key, wrapped, Bind(sha256)));

    private byte[] Bind(string sha256) => Encoding.UTF8.GetBytes($"{sha256}:{id}");
}
