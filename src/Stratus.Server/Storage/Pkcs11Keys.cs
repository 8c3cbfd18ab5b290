using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;
using Stratus.Server.Kernel;
using ISession = Net.Pkcs11Interop.HighLevelAPI.ISession;

namespace Stratus.Server.Storage;

/// <summary>
/// Key-encryption keys kept in a PKCS#11 token (a hardware security module, or SoftHSM):
/// <see cref="StorageSettings.Pkcs11Library"/>, <see cref="StorageSettings.Pkcs11Token"/>,
/// <see cref="StorageSettings.Pkcs11Pin"/> and the AES keys' labels in <see cref="StorageSettings.Pkcs11Keys"/> (the
/// active one, listed last, is made in the token when missing). The keys never leave the token: each data key is wrapped by the token's AES-GCM with a random IV, the blob's hash and
/// the key's id as associated data.
/// </summary>
internal sealed class Pkcs11Keys : IKeySource
{
    // A PKCS#11 library is initialized once per process (a second C_Initialize is refused), and its login is the
    // process's: every key ring of the process (several nodes in one test process) shares one session per token.
    private static readonly Lock Loading = new();
    private static readonly Dictionary<string, IPkcs11Library> Libraries = new(StringComparer.Ordinal);
    private static readonly Dictionary<string, Pkcs11Token> Tokens = new(StringComparer.Ordinal);

    public Pkcs11Keys(StorageSettings settings)
    {
        if (settings.Pkcs11Library is not { Length: > 0 } path || settings.Pkcs11Token is not { Length: > 0 } label)
            throw new StartupException("Stratus:Pkcs11Keys needs Stratus:Pkcs11Library (the module, such as /usr/lib/softhsm/libsofthsm2.so) and Stratus:Pkcs11Token (the token's label)");
        var labels = settings.Pkcs11Keys!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (labels.Length == 0) throw new StartupException("Stratus:Pkcs11Keys (STRATUS_PKCS11KEYS) names no key; list the AES keys' labels, the active one last");
        if (labels.Distinct(StringComparer.Ordinal).Count() < labels.Length) throw new StartupException("Stratus:Pkcs11Keys (STRATUS_PKCS11KEYS) names a key twice");
        var token = Open(path, label, settings.Pkcs11Pin);
        var keys = labels.Select(l => new Pkcs11Key(token, l)).ToList();
        // The active key is made in the token when it is not there yet (a first start, or a new key listed last
        // before a rotation), as a key file is made: AES-256, sensitive, never extractable.
        keys[^1].Create();
        Keys = [.. keys];
        Source = $"PKCS#11 token '{label}' of {path} (Stratus:Pkcs11Keys)";
    }

    public List<IKeyEncryptionKey> Keys { get; }

    public string Source { get; }

    private static Pkcs11Token Open(string path, string label, string? pin)
    {
        lock (Loading)
        {
            if (Tokens.TryGetValue($"{path}\n{label}", out var open)) return open;
            if (!File.Exists(path)) throw new StartupException($"the PKCS#11 module {path} of Stratus:Pkcs11Library does not exist");
            if (!Libraries.TryGetValue(path, out var library))
            {
                if (Libraries.Count == 0)
                {
                    // Pkcs11Interop loads modules through "libdl", which glibc 2.34 and later ship only as libdl.so.2.
                    NativeLibrary.SetDllImportResolver(typeof(Pkcs11InteropFactories).Assembly,
                        (name, _, _) => name == "libdl" && NativeLibrary.TryLoad("libdl.so.2", out var dl) ? dl : IntPtr.Zero);
                }
                var factories = new Pkcs11InteropFactories();
                library = factories.Pkcs11LibraryFactory.LoadPkcs11Library(factories, path, AppType.MultiThreaded);
                Libraries[path] = library;
            }
            var slots = library.GetSlotList(SlotsType.WithTokenPresent);
            var slot = slots.FirstOrDefault(s => s.GetTokenInfo().Label.Trim() == label)
                ?? throw new StartupException($"no token of {path} is labelled '{label}' (Stratus:Pkcs11Token); it has {string.Join(", ", slots.Select(s => $"'{s.GetTokenInfo().Label.Trim()}'").DefaultIfEmpty("none"))}");
            var session = slot.OpenSession(SessionType.ReadWrite);
            try
            {
                session.Login(CKU.CKU_USER, pin ?? "");
            }
            catch (Pkcs11Exception ex) when (ex.RV == CKR.CKR_USER_ALREADY_LOGGED_IN)
            {
            }
            catch (Pkcs11Exception ex) when (ex.RV is CKR.CKR_PIN_INCORRECT or CKR.CKR_PIN_LEN_RANGE or CKR.CKR_ARGUMENTS_BAD or CKR.CKR_PIN_LOCKED)
            {
                session.Dispose();
                throw new StartupException($"the PIN of Stratus:Pkcs11Pin (STRATUS_PKCS11PIN) does not log in to token '{label}': {ex.RV}");
            }
            return Tokens[$"{path}\n{label}"] = new Pkcs11Token(session);
        }
    }
}

/// <summary>A logged-in session of a token, used by one call at a time (a PKCS#11 session is not for concurrent operations).</summary>
internal sealed class Pkcs11Token(ISession session)
{
    private readonly Lock _lock = new();

    public T Use<T>(Func<ISession, T> call)
    {
        lock (_lock) return call(session);
    }
}

/// <summary>One AES key of a token, by its label.</summary>
internal sealed class Pkcs11Key(Pkcs11Token token, string label) : IKeyEncryptionKey
{
    private const int IvBytes = 12;
    private const int TagBits = 128;

    public string Id { get; } = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"pkcs11:{label}")))[..16];

    /// <summary>
    /// The tag the key gives an empty message under a fixed IV, hashed: the same key gives the same fingerprint, and it
    /// tells nothing of the key (no data key is ever wrapped under that IV with that associated data).
    /// </summary>
    public Task<string> FingerprintAsync(CancellationToken ct) =>
        Task.FromResult(Convert.ToHexStringLower(SHA256.HashData(WithKey((s, key) => s.Encrypt(Gcm(s, new byte[IvBytes], "stratus:fingerprint"u8.ToArray()), key, [])))));

    public Task<byte[]> WrapAsync(byte[] dataKey, string sha256, CancellationToken ct)
    {
        var iv = RandomNumberGenerator.GetBytes(IvBytes);
        var sealedKey = WithKey((s, key) => s.Encrypt(Gcm(s, iv, Bind(sha256)), key, dataKey));
        return Task.FromResult<byte[]>([.. iv, .. sealedKey]);
    }

    public Task<byte[]?> UnwrapAsync(byte[] wrapped, string sha256, CancellationToken ct)
    {
        if (wrapped.Length <= IvBytes + TagBits / 8) return Task.FromResult<byte[]?>(null);
        try
        {
            return Task.FromResult<byte[]?>(WithKey((s, key) => s.Decrypt(Gcm(s, wrapped[..IvBytes], Bind(sha256)), key, wrapped[IvBytes..])));
        }
        catch (Pkcs11Exception ex) when (ex.RV is CKR.CKR_ENCRYPTED_DATA_INVALID or CKR.CKR_ENCRYPTED_DATA_LEN_RANGE)
        {
            return Task.FromResult<byte[]?>(null); // another blob's, another key's, or altered
        }
    }

    private byte[] Bind(string sha256) => Encoding.UTF8.GetBytes($"{sha256}:{Id}");

    private static IMechanism Gcm(ISession s, byte[] iv, byte[] associated) =>
        s.Factories.MechanismFactory.Create(CKM.CKM_AES_GCM, s.Factories.MechanismParamsFactory.CreateCkGcmParams(iv, (ulong)iv.Length * 8, associated, TagBits));

    /// <summary>Makes the key in the token unless it is there.</summary>
    public void Create() => token.Use(s =>
    {
        if (Find(s).Count > 0) return 0;
        var a = s.Factories.ObjectAttributeFactory;
        s.GenerateKey(s.Factories.MechanismFactory.Create(CKM.CKM_AES_KEY_GEN), [
            a.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY), a.Create(CKA.CKA_KEY_TYPE, CKK.CKK_AES), a.Create(CKA.CKA_LABEL, label),
            a.Create(CKA.CKA_VALUE_LEN, 32UL), a.Create(CKA.CKA_TOKEN, true), a.Create(CKA.CKA_PRIVATE, true),
            a.Create(CKA.CKA_SENSITIVE, true), a.Create(CKA.CKA_EXTRACTABLE, false), a.Create(CKA.CKA_ENCRYPT, true), a.Create(CKA.CKA_DECRYPT, true),
        ]);
        return 1;
    });

    /// <summary>The key's handle, found once (not a search of the token per data key: a rotation wraps and unwraps them all).</summary>
    private IObjectHandle? _handle;

    /// <summary>Calls the token with the key's handle, found again if the key was replaced in the token since.</summary>
    private T WithKey<T>(Func<ISession, IObjectHandle, T> call) => token.Use(s =>
    {
        try
        {
            return call(s, _handle ??= Key(s));
        }
        catch (Pkcs11Exception ex) when (ex.RV is CKR.CKR_KEY_HANDLE_INVALID or CKR.CKR_OBJECT_HANDLE_INVALID)
        {
            _handle = Key(s);
            return call(s, _handle);
        }
    });

    private IObjectHandle Key(ISession s)
    {
        var found = Find(s);
        return found.Count switch
        {
            1 => found[0],
            0 => throw new StartupException($"the PKCS#11 token has no AES key labelled '{label}' (Stratus:Pkcs11Keys): a key the data keys need is gone, or the label is misspelled"),
            _ => throw new StartupException($"the PKCS#11 token has {found.Count} AES keys labelled '{label}'; a key-encryption key must be one key"),
        };
    }

    private List<IObjectHandle> Find(ISession s) => s.FindAllObjects([
        s.Factories.ObjectAttributeFactory.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY),
        s.Factories.ObjectAttributeFactory.Create(CKA.CKA_KEY_TYPE, CKK.CKK_AES),
        s.Factories.ObjectAttributeFactory.Create(CKA.CKA_LABEL, label),
    ]);
}
