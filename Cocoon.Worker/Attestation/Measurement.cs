using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Cocoon.Worker.Attestation;

/// <summary>
/// The worker's code measurement: SHA-256 over (name, SHA-256 of contents) of each of its assemblies and native
/// libraries, sorted by name so the result does not depend on directory listing order or on where it is installed.
/// Same build, same measurement (the solution builds deterministically); the gateway allow-lists the value.
/// </summary>
public static class Measurement
{
    private static readonly string[] CodeExtensions = [".dll", ".so", ".dylib"];

    /// <summary>Measures the given files, each named by its file name; two files with the same name are refused.</summary>
    public static string Compute(IEnumerable<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var named = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var name = Path.GetFileName(file);
            if (!named.TryAdd(name, file))
            {
                throw new ArgumentException($"Two measured files are both named {name} ({named[name]} and {file}); measure them from distinct names.", nameof(files));
            }
        }

        if (named.Count == 0)
        {
            throw new ArgumentException("A measurement needs at least one file.", nameof(files));
        }

        using var outer = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[4];
        foreach (var (name, path) in named)
        {
            var nameBytes = Encoding.UTF8.GetBytes(name);
            BinaryPrimitives.WriteInt32BigEndian(length, nameBytes.Length);
            outer.AppendData(length);
            outer.AppendData(nameBytes);
            using var stream = File.OpenRead(path);
            outer.AppendData(SHA256.HashData(stream));
        }

        return Convert.ToHexStringLower(outer.GetHashAndReset());
    }

    /// <summary>
    /// The files a worker measures: the managed assemblies beside it and the native libraries (llama.cpp and others)
    /// in the given directories. A file name found in several directories is measured once, from the first.
    /// </summary>
    public static IReadOnlyList<string> CodeFiles(params IEnumerable<string?> directories)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var files = new List<string>();
        foreach (var directory in directories)
        {
            if (string.IsNullOrEmpty(directory) || !Directory.Exists(directory))
            {
                continue;
            }

            foreach (var file in Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(file);
                if (IsCode(name) && seen.Add(name))
                {
                    files.Add(file);
                }
            }
        }

        return files;
    }

    /// <summary>
    /// Measures this process: its application directory, the native libraries NuGet packages ship for this platform
    /// (libsodium under runtimes/RID/native when not published for one RID), and the given native library directories.
    /// </summary>
    public static string ForCurrentProcess(params IEnumerable<string?> nativeLibraryDirectories) =>
        Compute(CurrentProcessFiles(nativeLibraryDirectories));

    public static IReadOnlyList<string> CurrentProcessFiles(params IEnumerable<string?> nativeLibraryDirectories) =>
        CodeFiles([
            AppContext.BaseDirectory,
            Path.Combine(AppContext.BaseDirectory, "runtimes", RuntimeInformation.RuntimeIdentifier, "native"),
            .. nativeLibraryDirectories]);

    private static bool IsCode(string name) =>
        CodeExtensions.Any(ext => name.EndsWith(ext, StringComparison.Ordinal)) || name.Contains(".so.", StringComparison.Ordinal);
}
