from setuptools import find_packages, setup


def read_version():
    scope = {}
    with open('mmadapt/version.py', encoding='utf-8') as f:
        exec(f.read(), scope)
    return scope['__version__']


def read_requirements(path):
    with open(path, encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip() and not line.startswith('#')]


setup(
    name='mmadapt',
    version=read_version(),
    description='Network adaptation for OpenMMLab: FNA++, DNA, Network Adjustment, DS-Net, NetAdaptV2',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools', 'projects')),
    include_package_data=True,
    package_data={'mmadapt.arch': ['specs/*.yaml']},
    python_requires='>=3.9',
    install_requires=read_requirements('requirements/runtime.txt'),
    extras_require={'tests': read_requirements('requirements/tests.txt')},
    license='Apache-2.0',
    zip_safe=False,
)
