using System.Text.RegularExpressions;
using System.Xml.Linq;
using Cocoon.Testing;

namespace Cocoon.Local.Tests.Deployment;

/// <summary>
/// Docker is not available where Cocoon is built, so the images are kept correct by reading. This reads for the
/// mistake that is easy to make and invisible until someone runs <c>docker build</c>: a project split out of another
/// (as Cocoon.Network was) is referenced by the published project but never copied into the build stage.
/// </summary>
public sealed partial class DockerfileTests
{
    private static readonly string[] BuiltLocally = ["**/bin", "**/obj", "**/node_modules", ".cocoon"];

    public static TheoryData<string> Dockerfiles() => new() { "Cocoon.Bot/Dockerfile", "Cocoon.Worker/Dockerfile" };

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void Every_project_the_published_one_references_is_copied_before_restore_and_build(string dockerfile)
    {
        var text = File.ReadAllText(Path.Combine(SharedFiles.RepoRoot, dockerfile));
        var published = PublishCommand().Match(text);
        Assert.True(published.Success, $"{dockerfile} has no `dotnet publish <project>.csproj` line");
        var restoreAt = text.IndexOf("dotnet restore", StringComparison.Ordinal);
        Assert.True(restoreAt > 0, $"{dockerfile} has no `dotnet restore` step");

        foreach (var project in ProjectClosure(published.Groups["project"].Value))
        {
            var projectFile = $"COPY {project}/{project}.csproj {project}/";
            var sources = $"COPY {project}/ {project}/";
            var projectFileAt = text.IndexOf(projectFile, StringComparison.Ordinal);
            Assert.True(projectFileAt >= 0 && projectFileAt < restoreAt,
                $"{dockerfile}: `{projectFile}` is missing before `dotnet restore` ({published.Groups["project"].Value} references {project})");
            Assert.Contains(sources, text);
        }
    }

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void Every_file_copied_from_the_repository_exists(string dockerfile)
    {
        var text = File.ReadAllText(Path.Combine(SharedFiles.RepoRoot, dockerfile));
        foreach (Match copy in CopyFromContext().Matches(text))
        {
            var sources = copy.Groups["args"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..^1];
            foreach (var source in sources)
            {
                var path = Path.Combine(SharedFiles.RepoRoot, source.TrimEnd('/'));
                Assert.True(File.Exists(path) || Directory.Exists(path), $"{dockerfile}: COPY {source} names nothing in the repository");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Dockerfiles))]
    public void Content_the_project_ships_from_a_build_output_is_built_in_the_image(string dockerfile)
    {
        // A project item like MiniApp/web/dist/** is made by ./cocoon (npm) and ignored by git and by .dockerignore,
        // so the image must make it in a stage of its own and copy it in before publishing.
        var text = File.ReadAllText(Path.Combine(SharedFiles.RepoRoot, dockerfile));
        var project = PublishCommand().Match(text).Groups["project"].Value;
        var folder = Path.GetDirectoryName(project)!;
        var ignored = File.ReadAllLines(Path.Combine(SharedFiles.RepoRoot, ".dockerignore"));
        foreach (var content in XDocument.Load(Path.Combine(SharedFiles.RepoRoot, project)).Descendants("Content"))
        {
            var built = $"{folder}/{content.Attribute("Include")!.Value.Replace("/**", "", StringComparison.Ordinal)}";
            if (ignored.Contains(built))
            {
                Assert.Matches($@"COPY --from=\S+ \S+ {Regex.Escape(built)}/?\n", text);
            }
        }
    }

    [Fact]
    public void The_build_context_leaves_out_what_a_developer_built()
    {
        var ignored = File.ReadAllLines(Path.Combine(SharedFiles.RepoRoot, ".dockerignore"));
        Assert.All(BuiltLocally, entry => Assert.Contains(entry, ignored));
    }

    [Fact]
    public void Compose_builds_only_dockerfiles_that_exist()
    {
        var compose = File.ReadAllText(Path.Combine(SharedFiles.RepoRoot, "compose.yaml"));
        var named = ComposeDockerfile().Matches(compose).Select(m => m.Groups["path"].Value).ToArray();
        Assert.NotEmpty(named);
        Assert.All(named, path => Assert.True(File.Exists(Path.Combine(SharedFiles.RepoRoot, path)), $"compose.yaml builds {path}, which does not exist"));
    }

    /// <summary>The project and every project it references, directly or not, by folder name.</summary>
    private static SortedSet<string> ProjectClosure(string projectPath)
    {
        var found = new SortedSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([Path.GetFullPath(Path.Combine(SharedFiles.RepoRoot, projectPath))]);
        while (pending.TryPop(out var path))
        {
            if (!found.Add(Path.GetFileNameWithoutExtension(path)))
            {
                continue;
            }

            foreach (var reference in XDocument.Load(path).Descendants("ProjectReference"))
            {
                var include = reference.Attribute("Include")!.Value.Replace('\\', '/');
                pending.Push(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, include)));
            }
        }

        return found;
    }

    [GeneratedRegex(@"dotnet publish (?<project>\S+\.csproj)")]
    private static partial Regex PublishCommand();

    // COPY lines that read the build context (not `COPY --from=stage`).
    [GeneratedRegex(@"^COPY (?!--from)(?<args>.+)$", RegexOptions.Multiline)]
    private static partial Regex CopyFromContext();

    [GeneratedRegex(@"dockerfile:\s*(?<path>\S+)")]
    private static partial Regex ComposeDockerfile();
}
