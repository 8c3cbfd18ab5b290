using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;
using Stratus.Server.Storage;

namespace Stratus.Server.Security;

/// <summary>The console's data-protection keys (which sign its cookies) written sealed by <see cref="ColumnSealer"/>, not in plaintext.</summary>
internal sealed class SealedXmlEncryptor(ColumnSealer sealer) : IXmlEncryptor
{
    public EncryptedXmlInfo Encrypt(XElement plaintextElement) =>
        new(new XElement("sealed", sealer.Seal(plaintextElement.ToString(SaveOptions.DisableFormatting))), typeof(SealedXmlDecryptor));
}

/// <summary>Opens what <see cref="SealedXmlEncryptor"/> wrote; ASP.NET Core makes it by name from the key's XML.</summary>
internal sealed class SealedXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement) => XElement.Parse(services.GetRequiredService<ColumnSealer>().Open(encryptedElement.Value));
}
