namespace Cocoon.Engine.Tests;

public sealed class SmokeTests
{
    [Fact]
    public void Shared_folder_is_beside_the_repo() =>
        Assert.True(File.Exists(Cocoon.Testing.SharedFiles.SmallModel), Cocoon.Testing.SharedFiles.SmallModel);
}
