using System.Security.Cryptography;

namespace Cocoon.Local.Up;

/// <summary>
/// What <c>up</c> keeps under COCOON_DATA between runs: the local API key (so <c>ask</c> finds it) and the local
/// chain's wallet seed (so the deposit address stays the same). Written only after the settings validated.
/// </summary>
internal static class LocalDataFolder
{
    private const string ApiKeyFile = "api-key";

    /// <summary>The gateway's key format (Cocoon.Bot's ApiKeyStore.KeyPrefix), so a leaked local key is recognisable too.</summary>
    private const string KeyPrefix = "sk-cocoon-";

    /// <summary>Creates the data folder and settles the API key: COCOON_API_KEY, else the saved one, else a new one saved (owner-only).</summary>
    public static (string ApiKey, bool Generated) Prepare(UpSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        try
        {
            Directory.CreateDirectory(settings.DataDir);
            if (settings.ConfiguredApiKey is { } configured)
            {
                return (configured, false);
            }

            if (ReadSavedApiKey(settings.DataDir) is { } saved)
            {
                return (saved, false);
            }

            var key = KeyPrefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
            WriteOwnerOnly(Path.Combine(settings.DataDir, ApiKeyFile), key + "\n");
            return (key, true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UpSettingsException($"COCOON_DATA (Cocoon:DataDir) '{settings.DataDir}' cannot be written ({ex.Message}); point it at a writable folder.");
        }
    }

    /// <summary>The local key saved by an earlier <c>up</c>, or null.</summary>
    public static string? ReadSavedApiKey(string dataDir)
    {
        var path = Path.Combine(dataDir, ApiKeyFile);
        return File.Exists(path) ? File.ReadAllText(path).Trim() is { Length: > 0 } k ? k : null : null;
    }

    /// <summary>The local chain's network wallet seed: created once (owner-only file) and reused.</summary>
    public static async Task<string> LocalWalletSeedAsync(string dataDir, CancellationToken cancellationToken)
    {
        var path = Path.Combine(dataDir, "ton", "local-network-wallet.seed");
        if (File.Exists(path))
        {
            return (await File.ReadAllTextAsync(path, cancellationToken)).Trim();
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var seed = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        WriteOwnerOnly(path, seed);
        return seed;
    }

    /// <summary>
    /// The bot's host key (Telegram:HostKey, base64): 32 random bytes made once under the data folder (owner-only
    /// file) and passed to every gateway this machine starts, so they all open each other's conversations. The file is
    /// where gateways used to make their own key, so conversations stored before survive.
    /// </summary>
    public static async Task<string> LocalHostKeyAsync(string dataDir, CancellationToken cancellationToken)
    {
        var path = Path.Combine(dataDir, "telegram", "host.key");
        if (File.Exists(path))
        {
            var existing = await File.ReadAllBytesAsync(path, cancellationToken);
            if (existing.Length == 32)
            {
                return Convert.ToBase64String(existing);
            }

            throw new InvalidOperationException($"{path} is not a 32-byte host key; move it away to have a new one made.");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var key = RandomNumberGenerator.GetBytes(32);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using (var file = new FileStream(path, options))
        {
            await file.WriteAsync(key, cancellationToken);
        }

        return Convert.ToBase64String(key);
    }

    private static void WriteOwnerOnly(string path, string text)
    {
        File.WriteAllText(path, text);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}
