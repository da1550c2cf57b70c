namespace Cocoon.Testing;

/// <summary>Finds the repository root and the ../shared folder beside it (design, model, test vectors).</summary>
public static class SharedFiles
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string SharedDir { get; } = Environment.GetEnvironmentVariable("COCOON_SHARED") is { Length: > 0 } s
        ? Path.GetFullPath(s)
        : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string SmallModel => Path.Combine(SharedDir, "models", "stories260K.gguf");

    public static string TestVector(string name) => Path.Combine(SharedDir, "testvectors", name);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Cocoon.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Cocoon.sln not found above " + AppContext.BaseDirectory);
    }
}
