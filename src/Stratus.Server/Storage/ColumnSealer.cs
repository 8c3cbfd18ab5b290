using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Stratus.Server.Storage;

/// <summary>
/// Marks a metadata column that holds users' data — values (feedback inputs and labels) or statistics of them
/// (profiles, baselines, drift reports, which name categories): stored sealed by <see cref="ColumnSealer"/>.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class SealedAttribute : Attribute;

/// <summary>
/// Encryption at rest for the <see cref="SealedAttribute"/> columns of the metadata database: AES-256-GCM under the
/// database's own data key (the <c>metadata</c> entry of <see cref="DataKeys"/>, wrapped by the key-encryption key like
/// every blob's, and re-wrapped by rotation), applied by EF Core as a value converter, so no service sees a sealed value.
/// A value is <c>sealed:1:</c> and the base64 of nonce, ciphertext and tag; a value without that prefix (written before
/// encryption, or with it off) is read as it is. Sealed columns are never searched by value.
/// </summary>
public sealed class ColumnSealer(IDataKeys keys)
{
    /// <summary>The <see cref="DataKeyRow.Sha256"/> under which the metadata database's own key is kept.</summary>
    public const string KeyName = "metadata";

    private const string Prefix = "sealed:1:";
    private byte[]? _key;

    /// <summary>Loads the database's key, made on the first start; before any sealed column is read or written.</summary>
    public async Task LoadAsync(CancellationToken ct) =>
        _key = keys.Encrypting ? await keys.ClaimAsync(KeyName, BlobCipher.NewKey(), ct) : await keys.FindAsync(KeyName, ct);

    public string Seal(string value)
    {
        if (!keys.Encrypting) return value;
        var key = _key ?? throw new InvalidOperationException("the metadata database's key is not loaded (ColumnSealer.LoadAsync at start)");
        return Prefix + Convert.ToBase64String(BlobCipher.SealValue(key, Encoding.UTF8.GetBytes(value)));
    }

    public string Open(string value)
    {
        if (!value.StartsWith(Prefix, StringComparison.Ordinal)) return value;
        var key = _key ?? throw new InvalidOperationException("the metadata database's key is not loaded (ColumnSealer.LoadAsync at start)");
        var plain = BlobCipher.OpenValue(key, Convert.FromBase64String(value[Prefix.Length..]))
            ?? throw new CryptographicException("a sealed metadata value fails authentication: altered in the database, or sealed under another key");
        return Encoding.UTF8.GetString(plain);
    }

    /// <summary>Puts the converter on every sealed column of the model a context of this node builds.</summary>
    internal static void Apply(ModelBuilder model, DbContext context)
    {
        if (Of(context) is not { } sealer) return; // design time: the schema only
        var converter = new ValueConverter<string, string>(v => sealer.Seal(v), v => sealer.Open(v));
        foreach (var entity in model.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties())
            {
                if (property.PropertyInfo?.IsDefined(typeof(SealedAttribute), false) == true) property.SetValueConverter(converter);
            }
        }
    }

    /// <summary>The sealer of the node whose services made this context.</summary>
    private static ColumnSealer? Of(DbContext context) =>
        context.GetService<IDbContextOptions>().FindExtension<CoreOptionsExtension>()?.ApplicationServiceProvider?.GetService<ColumnSealer>();

    /// <summary>A model per node (its converters hold its key), not one per context type as EF Core caches by default: tests run several nodes in one process.</summary>
    internal sealed class ModelCacheKeys : IModelCacheKeyFactory
    {
        public object Create(DbContext context, bool designTime) => (context.GetType(), Of(context), designTime);
    }
}
