using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace Cocoon.Worker.Inference;

/// <summary>
/// SHA-256 of a GGUF file, cached by absolute path, size and modification time in DATA/model-hashes.json so that a
/// multi-gigabyte model is hashed once, not at every start.
/// </summary>
public static class ModelIdentity
{
    public static async Task<string> Sha256Async(string path, string dataDir, CancellationToken cancellationToken)
    {
        var info = new FileInfo(Path.GetFullPath(path));
        var key = string.Create(CultureInfo.InvariantCulture, $"{info.FullName}|{info.Length}|{info.LastWriteTimeUtc.Ticks}");
        var cacheFile = Path.Combine(dataDir, "model-hashes.json");
        var cache = await ReadAsync(cacheFile, cancellationToken).ConfigureAwait(false);
        if (cache.TryGetValue(key, out var known))
        {
            return known;
        }

        string hash;
        var stream = new FileStream(info.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan | FileOptions.Asynchronous);
        await using (stream.ConfigureAwait(false))
        {
            hash = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
        }

        cache[key] = hash;
        Directory.CreateDirectory(dataDir);
        var temp = cacheFile + "." + Environment.ProcessId + ".tmp";
        await File.WriteAllTextAsync(temp, JsonSerializer.Serialize(cache), cancellationToken).ConfigureAwait(false);
        File.Move(temp, cacheFile, overwrite: true);
        return hash;
    }

    private static async Task<Dictionary<string, string>> ReadAsync(string file, CancellationToken cancellationToken)
    {
        try
        {
            var text = await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false);
            return JsonSerializer.Deserialize<Dictionary<string, string>>(text) ?? [];
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return [];
        }
        catch (JsonException)
        {
            // A damaged cache only costs a re-hash.
            return [];
        }
    }
}
