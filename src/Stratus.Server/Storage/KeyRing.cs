using System.Security.Cryptography;
using System.Text;
using Stratus.Server.Kernel;
using Stratus.Server.Security;

namespace Stratus.Server.Storage;

/// <summary>
/// The key-encryption keys (KEKs) that wrap every blob's data key: from <see cref="StorageSettings.MasterKey"/>
/// (<c>STRATUS_MASTERKEY</c>, the operator's, the same on every node) or from a key file, by default
/// <c>&lt;DataDir&gt;/keys/master.keys</c>, made on the first start with mode 0600. Either lists keys as
/// <c>ID:BASE64</c>, one per line or comma; the last is the active one, which wraps new data keys; the others only unwrap
/// until <c>stratus keys rotate</c> has re-wrapped their data keys. A key is 32 random bytes (AES-256); wrapping is
/// AES-256-GCM with the blob's hash and the key's id as associated data, so a wrapped key moved to another blob fails.
/// </summary>
public sealed class KeyRing
{
    private readonly StorageSettings _settings;
    private readonly Lock _lock = new();
    private List<(string Id, byte[] Key)> _keys = [];
    private DateTime _read; // the key file's write time when read

    public KeyRing(StorageSettings settings)
    {
        _settings = settings;
        Load();
    }

    /// <summary>The key file, when the keys come from one.</summary>
    public string? KeyFile => _settings.MasterKey is { Length: > 0 } ? null : _settings.KeyFile ?? Path.Combine(_settings.DataDir, "keys", "master.keys");

    /// <summary>Where the keys come from, for an operator (never the keys).</summary>
    public string Source => KeyFile ?? "Stratus:MasterKey (STRATUS_MASTERKEY)";

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

    /// <summary>A key's fingerprint (the SHA-256 of its bytes, which tells nothing of them): how the database knows a wrong key of the right name.</summary>
    public string Fingerprint(string id) => Convert.ToHexStringLower(SHA256.HashData(KeyOf(id)));

    /// <summary>Whether this node holds a key of this id.</summary>
    public bool Has(string id)
    {
        lock (_lock) return _keys.Any(k => k.Id == id);
    }

    /// <summary>Wraps a blob's data key under the active key: nonce, ciphertext and tag, and the key's id.</summary>
    public (string KeyId, byte[] Wrapped) Wrap(string sha256, byte[] dataKey)
    {
        string id;
        byte[] kek;
        lock (_lock)
        {
            // Another node rotated the shared key file: new data keys go under its new active key at once.
            if (KeyFile is { } file && File.Exists(file) && File.GetLastWriteTimeUtc(file) != _read) Load();
            (id, kek) = _keys.Count > 0 ? _keys[^1] : throw new InvalidOperationException("no key-encryption key is loaded");
        }
        return (id, BlobCipher.SealValue(kek, dataKey, Bind(sha256, id)));
    }

    /// <summary>Unwraps a blob's data key; <see cref="CryptographicException"/> when the key is not this node's or the bytes were altered.</summary>
    public byte[] Unwrap(string sha256, string keyId, byte[] wrapped)
    {
        return BlobCipher.OpenValue(KeyOf(keyId), wrapped, Bind(sha256, keyId))
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
            SecretFile.Write(made, Line(NewKey()));
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
            SecretFile.Write(file, string.Concat(_keys.Select(k => Line(k))) + Line(key));
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
            var kept = _keys.Where(k => !ids.Contains(k.Id) || k.Id == _keys[^1].Id).ToList();
            SecretFile.Write(file, string.Concat(kept.Select(k => Line(k))));
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
        _keys = Read(_settings);
    }

    private byte[] KeyOf(string id)
    {
        lock (_lock)
        {
            foreach (var (kid, key) in _keys) if (kid == id) return key;
        }
        if (Reload(id)) return KeyOf(id);
        throw new CryptographicException($"key-encryption key {id} is not among this node's keys ({Source})");
    }

    private static byte[] Bind(string sha256, string keyId) => Encoding.UTF8.GetBytes($"{sha256}:{keyId}");

    private static (string Id, byte[] Key) NewKey() => (Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)), RandomNumberGenerator.GetBytes(32));

    private static string Line((string Id, byte[] Key) key) => $"{key.Id}:{Convert.ToBase64String(key.Key)}\n";

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
