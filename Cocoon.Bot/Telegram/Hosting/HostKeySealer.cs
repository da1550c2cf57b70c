using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace Cocoon.Bot.Telegram.Hosting;

/// <summary>
/// Encrypts what the bot keeps at rest (conversation turns, queued updates) with the host key: ChaCha20-Poly1305,
/// a random 96-bit nonce per write, and the Redis key name as associated data so a blob can't be moved to another
/// user's key and still open.
/// </summary>
public sealed class HostKeySealer : IDisposable
{
    private static readonly AeadAlgorithm Aead = AeadAlgorithm.ChaCha20Poly1305;
    private readonly Key _key;

    public HostKeySealer(ReadOnlySpan<byte> key)
    {
        if (key.Length != Aead.KeySize)
        {
            throw new ArgumentException($"The host key must be {Aead.KeySize} bytes.", nameof(key));
        }

        _key = Key.Import(Aead, key, KeyBlobFormat.RawSymmetricKey);
    }

    public byte[] Seal(ReadOnlySpan<byte> plaintext, string context)
    {
        var output = new byte[Aead.NonceSize + plaintext.Length + Aead.TagSize];
        var nonce = output.AsSpan(0, Aead.NonceSize);
        RandomNumberGenerator.Fill(nonce);
        Aead.Encrypt(_key, nonce, Encoding.UTF8.GetBytes(context), plaintext, output.AsSpan(Aead.NonceSize));
        return output;
    }

    /// <summary>Null when the blob was not sealed by this key for this context (a rotated key, a moved blob).</summary>
    public byte[]? Open(ReadOnlySpan<byte> sealedBytes, string context)
    {
        if (sealedBytes.Length < Aead.NonceSize + Aead.TagSize)
        {
            return null;
        }

        var plaintext = new byte[sealedBytes.Length - Aead.NonceSize - Aead.TagSize];
        return Aead.Decrypt(_key, sealedBytes[..Aead.NonceSize], Encoding.UTF8.GetBytes(context), sealedBytes[Aead.NonceSize..], plaintext)
            ? plaintext
            : null;
    }

    /// <summary>The configured key, or one generated once (owner-only file) under the data folder.</summary>
    public static HostKeySealer FromConfiguration(string? base64Key, string dataDir)
    {
        if (base64Key is { Length: > 0 })
        {
            return new HostKeySealer(Convert.FromBase64String(base64Key));
        }

        var path = Path.Combine(dataDir, "telegram", "host.key");
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var fresh = RandomNumberGenerator.GetBytes(Aead.KeySize);
            var tmp = path + ".tmp";
            var fileOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var file = new FileStream(tmp, fileOptions))
            {
                file.Write(fresh);
                file.Flush(flushToDisk: true);
            }

            File.Move(tmp, path, overwrite: false);
        }

        return new HostKeySealer(File.ReadAllBytes(path));
    }

    public void Dispose() => _key.Dispose();
}
