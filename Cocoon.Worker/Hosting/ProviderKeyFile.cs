using Cocoon.Engine.Attestation;
using Cocoon.Network.Hosting;
using Microsoft.Extensions.Configuration;

namespace Cocoon.Worker.Hosting;

/// <summary>
/// The provider's Ed25519 key on the provider's own machine: one line, "cocoon-provider-key-v1 " and the 32-byte private
/// key in hex, in a file only its owner can read or write (0600). Only the public key is ever sent anywhere.
/// </summary>
public static class ProviderKeyFile
{
    public const string DefaultName = "provider.key";

    private const string Header = "cocoon-provider-key-v1 ";

    /// <summary>Worker:ProviderKey (COCOON_PROVIDER_KEY), else provider.key in the data folder.</summary>
    public static string PathFor(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return configuration["Worker:ProviderKey"] is { Length: > 0 } path
            ? System.IO.Path.GetFullPath(path)
            : System.IO.Path.Combine(CocoonEnvironment.DataDirPath(configuration), DefaultName);
    }

    /// <summary>True when the path was named explicitly (a missing file is then an error, not "no key").</summary>
    public static bool Named(IConfiguration configuration) => configuration["Worker:ProviderKey"] is { Length: > 0 };

    public static ProviderKey Read(string path)
    {
        var text = File.ReadAllText(path).Trim();
        if (!text.StartsWith(Header, StringComparison.Ordinal))
        {
            throw new IOException($"{path} is not a Cocoon provider key file (it must start with '{Header.Trim()}').");
        }

        byte[] key;
        try
        {
            key = Convert.FromHexString(text[Header.Length..].Trim());
        }
        catch (FormatException e)
        {
            throw new IOException($"{path}: the key is not hex.", e);
        }

        return key.Length == 32 ? ProviderKey.Import(key) : throw new IOException($"{path}: the key is not 32 bytes.");
    }

    /// <summary>Writes a new key (replacing any), created owner-only before a byte of the key is in it.</summary>
    public static ProviderKey Create(string path)
    {
        var key = ProviderKey.Create();
        var directory = System.IO.Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        var temporary = path + ".new";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(temporary, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.WriteLine(Header + Convert.ToHexStringLower(key.ExportPrivateKey()));
        }

        if (!OperatingSystem.IsWindows())
        {
            // UnixCreateMode applies only to a new file; a leftover .new keeps whatever mode it had.
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Move(temporary, path, overwrite: true);
        return key;
    }
}
