from setuptools import setup, find_packages

setup(
    name="sfn",
    version="0.1",
    packages=find_packages(),
    install_requires=["numpy>=1.14", "scikit-learn>=0.19", "pandas"],
    python_requires=">=3.5",
)
